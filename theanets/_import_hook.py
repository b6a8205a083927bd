"""The import hook that an installed theanets registers at interpreter start.

Code written for theanets 0.8 often starts with ``import theano`` (or
``import downhill``, which imports Theano). Under numpy 1.23 that import
fails unless Theano's ``blas.ldflags`` flag is set, and once Theano is
imported theanets can no longer choose ``floatX`` and a BLAS. So the wheel
installs a copy of this file as ``_theanets_import_hook.py`` at the root of
site-packages, with ``theanets-import-hook.pth``: ``site`` runs the line of
that file in every interpreter of the environment, and the line (see
:func:`pth_line`) imports the copy, which calls
:meth:`TheanoImportHook.install`.

That costs a few hundred microseconds at most (one small compiled module
is loaded; the hook is put at the front of ``sys.meta_path``; nothing else
is imported). The hook answers for no module until ``theano`` itself is
about to be imported. Then it loads ``theanets/_theano_env.py`` by its path
(without importing the ``theanets`` package) and lets it patch what Theano
needs and import Theano with theanets' flags, exactly as ``import
theanets`` would; the user's ``THEANO_FLAGS`` and ``.theanorc`` still win.
Setting the environment variable ``THEANETS_THEANO_HOOK=off`` leaves
``import theano`` alone.

This file must work outside the package: it imports only ``sys`` (and, in
the hook, ``os``, ``importlib.util`` and ``warnings``).
"""

import sys

#: The .pth file that runs the hook; see :func:`pth_line`.
PTH_NAME = 'theanets-import-hook.pth'

#: Name of the copy of this file at the root of site-packages. Imported
#: under this name (by the .pth line), the module registers the hook.
MODULE_NAME = '_theanets_import_hook'


class TheanoImportHook(object):
    """Meta-path finder that prepares the first import of ``theano``.

    It answers for no module. For ``theano`` it hands over to
    :func:`theanets._theano_env.hook_find_spec`, which returns Theano's own
    spec with a loader that puts theanets' flags in the environment during
    the import. An error on the way is reported as a warning, and the import
    proceeds as if the hook were not there.
    """

    #: Marks the hook, so :meth:`install` never registers two.
    theanets_theano_hook = True

    def __init__(self):
        self.done = False

    def find_spec(self, name, path=None, target=None):
        if name != 'theano' or self.done:
            return None
        self.done = True
        try:
            import importlib.util
            import os
            module = sys.modules.get('theanets._theano_env')
            if module is None:
                package = importlib.util.find_spec('theanets')
                if package is None or not package.submodule_search_locations:
                    return None  # theanets was removed: nothing to prepare
                location = os.path.join(
                    package.submodule_search_locations[0], '_theano_env.py')
                if not os.path.isfile(location):
                    return None  # another version of theanets, without it
                spec = importlib.util.spec_from_file_location(
                    'theanets._theano_env', location)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules['theanets._theano_env'] = module
            return module.hook_find_spec(self)
        except Exception as err:  # the import must go on without us
            import warnings
            warnings.warn(
                'theanets could not prepare the import of theano ({}: {}); '
                'Theano starts with its own defaults'.format(
                    type(err).__name__, err), RuntimeWarning, stacklevel=2)
            return None

    @classmethod
    def install(cls):
        """Register the hook, unless the user switched it off.

        Returns the hook registered, or None.
        """
        import os
        switch = os.environ.get('THEANETS_THEANO_HOOK', '').strip().lower()
        if switch in ('off', '0', 'no', 'false') or 'theano' in sys.modules:
            return None
        for finder in sys.meta_path:
            if getattr(finder, 'theanets_theano_hook', False):
                return None
        hook = cls()
        sys.meta_path.insert(0, hook)
        return hook


def pth_line():
    """Return the line of :data:`PTH_NAME`, which installs the hook.

    ``site`` executes a ``.pth`` line that starts with ``import``. This one
    imports :data:`MODULE_NAME` (a copy of this file at the root of
    site-packages, which registers the hook when imported under that name)
    and ignores any error, so that a broken installation never stops an
    interpreter from starting.

    Examples
    --------
    >>> line = pth_line()
    >>> line.startswith('import sys; exec(') and line.count('\\n') == 1
    True
    """
    program = 'try:\n    import {}\nexcept Exception:\n    pass\n'.format(
        MODULE_NAME)
    return 'import sys; exec({!r})\n'.format(program)


if __name__ == MODULE_NAME:
    TheanoImportHook.install()
