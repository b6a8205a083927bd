"""The shape of the package: imports flow one way, one module meets Theano.

These tests read the source (they import nothing from theanets), so they
guard the layering described in docs/architecture.rst:

* no import circle between theanets modules, counting imports inside
  functions too (a lazy import is still a dependency);
* only the compatibility seam (``theanets.backend``, with
  ``theanets._theano_env``, which prepares Theano's first import for it and
  for the import hook) imports Theano or downhill; every other module takes
  them from there;
* no ``assert`` statement in the package (``python -O`` removes them, so
  they cannot check input).
"""

import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'theanets')

#: Modules allowed to import the backend libraries directly.
SEAM = {'theanets.backend', 'theanets._theano_env'}

#: Third-party packages only the seam may import.
BACKEND_PACKAGES = ('theano', 'downhill')


def _modules():
    """Map each module name of the package to its parsed source."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for filename in files:
            if not filename.endswith('.py'):
                continue
            path = os.path.join(folder, filename)
            rel = os.path.relpath(path, os.path.dirname(PACKAGE))
            name = rel[:-3].replace(os.sep, '.')
            if name.endswith('.__init__'):
                name = name[:-len('.__init__')]
            with open(path, encoding='utf-8') as handle:
                found[name] = (ast.parse(handle.read(), path),
                               filename == '__init__.py')
    return found


MODULES = _modules()


def _imports(name):
    """Yield ``(imported module, node)`` for every import in a module."""
    tree, is_package = MODULES[name]
    package = name if is_package else name.rpartition('.')[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split('.')
                base = parts[:len(parts) - node.level + 1]
                module = '.'.join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ''
            for alias in node.names:
                # ``from pkg import sub`` depends on pkg.sub if it is a module
                sub = '{}.{}'.format(module, alias.name)
                yield (sub if sub in MODULES else module), node


def _dependencies():
    graph = {}
    for name in MODULES:
        if name == 'theanets':
            continue  # the package only re-exports its modules
        graph[name] = {module for module, _ in _imports(name)
                       if module in MODULES and module not in (name,
                                                               'theanets')}
    return graph


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_was_found():
    assert {'theanets.graph', 'theanets.backend',
            'theanets.layers.base'} <= set(MODULES)


def test_no_import_circles():
    assert _cycles(_dependencies()) == []


def test_cycle_detection_sees_a_circle():
    assert _cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [
        ['a', 'b', 'c']]


def test_services_do_not_import_the_graph():
    # The services take a network; the graph module uses them.
    graph = _dependencies()
    for service in ('theanets.validation', 'theanets.summary',
                    'theanets.saving', 'theanets.serialize',
                    'theanets.options', 'theanets.training',
                    'theanets.trainer', 'theanets.specs'):
        assert 'theanets.graph' not in graph[service], service


@pytest.mark.parametrize('name', sorted(set(MODULES) - SEAM))
def test_only_the_seam_imports_the_backend(name):
    direct = sorted({module for module, _ in _imports(name)
                     if module.split('.')[0] in BACKEND_PACKAGES})
    assert direct == [], '{} imports {} directly; import from ' \
        'theanets.backend instead'.format(name, direct)


@pytest.mark.parametrize('name', sorted(MODULES))
def test_no_assert_statements(name):
    tree, _ = MODULES[name]
    lines = [node.lineno for node in ast.walk(tree)
             if isinstance(node, ast.Assert)]
    assert lines == [], '{}: assert at lines {}'.format(name, lines)


def test_version_is_the_string_pip_reports():
    """``theanets.__version__`` is already in normalised (PEP 440) form.

    setup.py reads it from the source and pip shows the normalised form
    (``0.8.0pre`` would appear as ``0.8.0rc0``), so the two must agree.
    """
    from packaging.version import Version
    tree, _ = MODULES['theanets']
    version, = [node.value.value for node in tree.body
                if isinstance(node, ast.Assign)
                and [t.id for t in node.targets] == ['__version__']]
    assert str(Version(version)) == version
