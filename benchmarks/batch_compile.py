"""Cold-start lever: several C modules per ``g++`` run (a "unity" build).

A small module spends most of its ``g++`` time on work every module repeats:
the template code of the C++ standard headers and the ``std::vector`` /
``std::sort`` instantiations of the backend's elementwise loops (see
"Where one module's g++ time goes" in ``README.md``). Compiling several
modules as one translation unit does that work once. This script measures
what it would save, without changing theanets:

1. In a new, empty compile directory it runs the issue-15 classifier's
   first result (``Classifier([20, (32, 'relu'), 3])``, one epoch, one
   ``predict``) and records every module the backend compiles (its source
   and ``g++`` arguments, as theanets passes them: ``-g0`` and the
   precompiled header).
2. Each round then compiles the recorded modules again, serially: one
   ``g++`` run per module, as now (``separate``), and all of them as one
   translation unit (``unity``), and as two halves (``unity/2``, one per
   core). It reports the ``g++`` CPU time of each (the children's user +
   system time, which the machine's other load affects far less than wall
   time).
3. It checks the unity library: every module's ``PyInit`` loads from it
   (through a hard link named as the module), and it compares, function by
   function, the floating-point instructions (and calls to functions that
   are not Python's or the C++ library's) of each module's code in the
   separate and unity builds (``objdump``).

The unity source keeps each module's code apart: the shared include block
comes first, then each module's code inside a namespace of its own, with
``#pragma push_macro`` / ``pop_macro`` around it for every macro it
defines and a ``#line`` directive so that ``__LINE__`` is the module's own.

Usage::

    python benchmarks/batch_compile.py [--rounds 2]
    PYTHONPATH=. python3.13 benchmarks/batch_compile.py   # PyTensor
"""

import argparse
import difflib
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

CLASSIFIER = '''
import numpy as np
import theanets
rng = np.random.RandomState(13)
x = rng.randn(100, 20).astype('float32')
y = rng.randint(0, 3, size=100).astype('int32')
net = theanets.Classifier([20, (32, 'relu'), 3])
next(net.itertrain([x, y], algo='sgd', batch_size=10, progress=False))
net.predict(x)
'''


def record_modules():
    """Run the classifier on an empty cache; the modules it compiled."""
    from theanets import _c_compile
    compiler = _c_compile.installed()
    recorded = []
    original = compiler._compile

    def recording(module_name, src_code, location, include_dirs, lib_dirs,
                  libs, preargs, py_module, hide_symbols):
        if re.match(r'^m[0-9a-f]{32,}$', module_name):  # a node's module
            recorded.append(dict(
                name=module_name, src=src_code, include_dirs=include_dirs,
            lib_dirs=lib_dirs, libs=libs, preargs=preargs))
        return original(module_name, src_code, location, include_dirs,
                        lib_dirs, libs, preargs, py_module, hide_symbols)

    compiler._compile = recording
    try:
        exec(CLASSIFIER, {})
    finally:
        compiler._compile = original
    return compiler, recorded


def split_includes(src):
    """(the leading ``#include`` lines, the rest of the module)."""
    lines = src.split('\n')
    count = 0
    while count < len(lines) and (lines[count].startswith('#include') or
                                  not lines[count].strip()):
        count += 1
    includes = [line for line in lines[:count] if line.strip()]
    return includes, count, '\n'.join(lines[count:])


def unity_source(modules):
    """One translation unit holding every module's code apart."""
    includes, parts = [], []
    for number, module in enumerate(modules):
        head, skipped, body = split_includes(module['src'])
        includes += [line for line in head if line not in includes]
        if re.search(r'^\s*#\s*include', body, re.M):
            raise ValueError('{} includes a header after its code starts'
                             .format(module['name']))
        macros = sorted(set(re.findall(r'^\s*#\s*define\s+(\w+)', body,
                                       re.M)))
        parts.append(''.join(
            ['#pragma push_macro("{}")\n'.format(m) for m in macros] +
            ['namespace theanets_module_{} {{\n#line {} "mod.cpp"\n'.format(
                number, skipped + 1), body, '\n}\n'] +
            ['#pragma pop_macro("{}")\n'.format(m) for m in macros]))
    return '\n'.join(includes) + '\n' + '\n'.join(parts)


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def compile_separately(compiler, modules, directory):
    """Compile each module on its own; (CPU s, wall s, libraries)."""
    libraries = []
    cpu, wall = children_cpu(), time.perf_counter()
    for module in modules:
        location = tempfile.mkdtemp(dir=directory)
        compiler._compile(module['name'], module['src'], location,
                          module['include_dirs'], module['lib_dirs'],
                          module['libs'], module['preargs'], False, True)
        libraries.append(os.path.join(location, module['name'] + '.so'))
    return children_cpu() - cpu, time.perf_counter() - wall, libraries


def _union(modules, part):
    merged = []
    for module in modules:
        merged += [item for item in module[part] or [] if item not in merged]
    return merged


def compile_unity(compiler, modules, directory, name):
    """Compile modules as one translation unit; (CPU s, wall s, library).

    The unity build gets the union of the modules' arguments: they differ
    only in what the BLAS modules link (a library, its directory, its
    run-time path).
    """
    location = tempfile.mkdtemp(dir=directory)
    cpu, wall = children_cpu(), time.perf_counter()
    compiler._compile(name, unity_source(modules), location,
                      _union(modules, 'include_dirs'),
                      _union(modules, 'lib_dirs'), _union(modules, 'libs'),
                      _union(modules, 'preargs'), False, True)
    return (children_cpu() - cpu, time.perf_counter() - wall,
            os.path.join(location, name + '.so'))


def _same_arguments(modules):
    keys = {(tuple(m['include_dirs'] or []), tuple(m['lib_dirs'] or []),
             tuple(m['preargs'] or [])) for m in modules}
    return len(keys) == 1


FLOAT_INSTRUCTION = re.compile(
    r'^(v?(?:f[n]?m(?:add|sub)\w*|(?:add|sub|mul|div|sqrt|max|min|rcp\w*|'
    r'rsqrt\w*|round|hadd|dp)(?:ss|sd|ps|pd)|cvt\w*)|'
    r'f(?:add|sub|mul|div|sqrt|ld|st)\w*)\s')
_NOT_MATH = ('Py', '_Py', '__', 'mem', 'str', 'free', 'malloc', 'calloc',
             'realloc', '_Unwind', '_Z', '_import')


def float_code(library):
    """Per function of a module: its float instructions and math calls."""
    listing = subprocess.run(
        ['objdump', '-dr', '-C', '--no-show-raw-insn', library],
        capture_output=True, text=True, check=True).stdout
    functions, current = {}, None
    for line in listing.split('\n'):
        match = re.match(r'^[0-9a-f]+ <(.*)>:$', line)
        if match:
            # one name for a function in both builds: drop the namespace
            name = re.sub(r'theanets_module_\d+::', '', match.group(1))
            current = functions.setdefault(name, [])
            continue
        if current is None:
            continue
        text = re.sub(r'^\s*[0-9a-f]+:\s*', '', line).strip() + ' '
        instruction = FLOAT_INSTRUCTION.match(text)
        if instruction:
            current.append(instruction.group(1))
        elif 'R_X86_64_PLT32' in text:
            target = re.sub(r'-0x4$', '', text.split()[-1])
            if re.match(r'^[A-Za-z_]\w*$', target) and not target.startswith(
                    _NOT_MATH):  # a C function: libm's, BLAS
                current.append('call ' + target)
    return functions


def compare_float_code(separate, unity, modules):
    """(functions the same, functions that differ, details)."""
    unity_code = float_code(unity)
    same, differ, details = 0, 0, []
    for library, module in zip(separate, modules):
        for name, code in float_code(library).items():
            if module['name'] not in name or not code:
                continue
            if unity_code.get(name) == code:
                same += 1
            elif name not in unity_code:
                differ += 1
                details.append('{}: {} float instructions separately, not '
                               'found under that name in the unity library '
                               '(renamed or cloned by the optimiser)'.format(
                                   name[:90], len(code)))
            else:
                differ += 1
                first = next((line for line in difflib.unified_diff(
                    code, unity_code[name], lineterm='', n=0)
                    if line[:1] in '+-' and line[:3] not in ('---', '+++')),
                    '')
                details.append('{}: {} float instructions separately, {} in '
                               'the unity build; first difference: {}'.format(
                                   name[:90], len(code),
                                   len(unity_code[name]), first))
    return same, differ, details


def check_loading(compiler, unity, modules, directory):
    """Import every module from the unity library; the names that fail."""
    failed = []
    for module in modules:
        location = tempfile.mkdtemp(dir=directory)
        target = os.path.join(location, module['name'] + '.so')
        os.link(unity, target)
        try:
            loaded = compiler.backend.cmodule.dlimport(target)
            if not hasattr(loaded, 'instantiate'):
                failed.append(module['name'])
        except Exception as error:
            failed.append('{} ({})'.format(module['name'], error))
    return failed


def measure(rounds, base):
    """Record the modules, compile them both ways, compare (a child)."""
    for variable in ('THEANO_FLAGS', 'PYTENSOR_FLAGS'):
        flags = os.environ.get(variable, '')
        os.environ[variable] = ','.join(
            f for f in (flags, 'base_compiledir=' + base) if f)
    os.environ['THEANETS_COMPILE_JOBS'] = '1'
    compiler, modules = record_modules()
    from theanets import backend
    print('backend {}; {} modules recorded, {} KB of source'.format(
        backend.name(), len(modules),
        sum(len(m['src']) for m in modules) // 1024))
    if not _same_arguments(modules):
        print('their g++ arguments differ; the unity build gets their '
              'union')
    scratch = os.path.join(base, 'scratch')
    os.makedirs(scratch)
    half = len(modules) // 2
    rows = []
    for number in range(rounds):
        cpu, wall, separate = compile_separately(compiler, modules, scratch)
        rows.append(('separate', number, cpu, wall))
        cpu, wall, unity = compile_unity(compiler, modules, scratch,
                                         'unity_all')
        rows.append(('unity', number, cpu, wall))
        halves = [compile_unity(compiler, part, scratch, 'unity_half')
                  for part in (modules[:half], modules[half:])]
        rows.append(('unity/2', number, sum(h[0] for h in halves),
                     max(h[1] for h in halves)))
    print('\n{:10} {:>5} {:>12} {:>8} {:>10}'.format(
        'build', 'round', 'g++ CPU s', 'wall s', 'CPU ratio'))
    for build, number, cpu, wall in rows:
        reference = [r[2] for r in rows
                     if r[0] == 'separate' and r[1] == number][0]
        print('{:10} {:>5} {:>12.2f} {:>8.2f} {:>9.2f}x'.format(
            build, number, cpu, wall, cpu / reference))
    print('(unity/2: the two halves one after the other; its wall time is '
          'the larger half\'s, as on two cores)')
    failed = check_loading(compiler, unity, modules, scratch)
    print('\nmodules imported from the unity library: {} of {}{}'.format(
        len(modules) - len(failed), len(modules),
        '' if not failed else '; failed: ' + ', '.join(failed)))
    if shutil.which('objdump'):
        same, differ, details = compare_float_code(separate, unity, modules)
        print('functions with the same float instructions and math calls in '
              'both builds: {} of {}'.format(same, same + differ))
        for line in details:
            print('  differs: ' + line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return measure(args.rounds, args.child)
    base = tempfile.mkdtemp(prefix='theanets-batch-')
    try:  # the backend tidies its compile directory at exit: remove it after
        return subprocess.call([sys.executable, os.path.abspath(__file__),
                                '--rounds', str(args.rounds),
                                '--child', base])
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
