"""Cold-start lever: several C modules per ``g++`` run (batches).

A small module spends most of its ``g++`` time on work every module repeats:
the template code of the C++ standard headers and the ``std::vector`` /
``std::sort`` instantiations of the backend's elementwise loops (see
"Where one module's g++ time goes" in ``README.md``). theanets therefore
compiles modules that share their include block and ``g++`` command as one
translation unit, one batch per job (``theanets._c_compile``). This script
measures that against one ``g++`` run per module:

1. In a new, empty compile directory it runs the issue-15 classifier's
   first result (``Classifier([20, (32, 'relu'), 3])``, one epoch, one
   ``predict``) one module at a time and records every module the backend
   compiles (its source and ``g++`` arguments).
2. Each round then stages the recorded modules again through theanets'
   compiler, as theanets does for a function: one ``g++`` run per module
   with one job and with two (``separate``, ``THEANETS_BATCH_COMPILE=0``),
   and in batches with one job and with two (``batches``, the default). It
   reports the ``g++`` CPU time (the children's user + system time, which
   the machine's other load affects far less than wall time) and the wall
   time.
3. It checks the batch libraries: every module's ``PyInit`` loads from the
   library linked in its place, and it compares, function by function, the
   floating-point instructions (and calls to functions that are not
   Python's or the C++ library's) of each module's code when compiled on
   its own and in its batch (``objdump``).

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
    """Run the classifier on an empty cache; the modules it compiled, as
    (name, source, include dirs, lib dirs, libs, arguments) tuples."""
    from theanets import _c_compile  # after the compile directory is set
    compiler = _c_compile.installed()
    recorded = []
    original = compiler._compile

    def recording(module_name, src_code, location, include_dirs, lib_dirs,
                  libs, preargs, py_module, hide_symbols):
        if re.match(r'^m[0-9a-f]{32,}$', module_name):  # a node's module
            recorded.append((module_name, src_code, include_dirs, lib_dirs,
                             libs, preargs))
        return original(module_name, src_code, location, include_dirs,
                        lib_dirs, libs, preargs, py_module, hide_symbols)

    compiler._compile = recording
    try:
        exec(CLASSIFIER, {})
    finally:
        compiler._compile = original
    return compiler, recorded


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stage_all(compiler, modules, jobs, batch):
    """Stage every module as theanets would, wait for them.

    Returns (g++ CPU s, wall s, each module's library, the signatures).
    """
    from theanets import _c_compile
    if compiler._pool is not None:
        compiler._pool.shutdown(wait=True)
        compiler._pool = None
    compiler.jobs, compiler.batch = jobs, batch
    staged = [(_c_compile._signature(*arguments, hide_symbols=True),
               arguments) for arguments in modules]
    cpu, wall = children_cpu(), time.perf_counter()
    signatures = compiler.stage_jobs(staged)
    libraries = {s: compiler._staged[s].result() for s in signatures}
    cpu, wall = children_cpu() - cpu, time.perf_counter() - wall
    return cpu, wall, [libraries[s] for s, _ in staged], signatures


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


def compare_float_code(separate, batched, modules):
    """(functions the same, functions that differ, details)."""
    listings = {}
    same, differ, details = 0, 0, []
    for alone, in_batch, module in zip(separate, batched, modules):
        inode = os.stat(in_batch).st_ino   # one listing per batch library
        if inode not in listings:
            listings[inode] = float_code(in_batch)
        batch_code = listings[inode]
        for name, code in float_code(alone).items():
            if module[0] not in name or not code:
                continue
            if batch_code.get(name) == code:
                same += 1
            elif name not in batch_code:
                differ += 1
                details.append('{}: {} float instructions alone, not found '
                               'under that name in its batch (renamed or '
                               'cloned by the optimiser)'.format(
                                   name[:90], len(code)))
            else:
                differ += 1
                first = next((line for line in difflib.unified_diff(
                    code, batch_code[name], lineterm='', n=0)
                    if line[:1] in '+-' and line[:3] not in ('---', '+++')),
                    '')
                details.append('{}: {} float instructions alone, {} in its '
                               'batch; first difference: {}'.format(
                                   name[:90], len(code),
                                   len(batch_code[name]), first))
    return same, differ, details


def check_loading(compiler, libraries, modules):
    """Import every module from its library; the names that fail."""
    failed = []
    for library, module in zip(libraries, modules):
        try:
            loaded = compiler.backend.cmodule.dlimport(library)
            if not hasattr(loaded, 'instantiate'):
                failed.append(module[0])
        except Exception as error:
            failed.append('{} ({})'.format(module[0], error))
    return failed


VARIANTS = [('separate', 1, False), ('separate', 2, False),
            ('batches', 1, True), ('batches', 2, True)]


def measure(rounds, base):
    """Record the modules, compile them each way, compare (a child)."""
    for variable in ('THEANO_FLAGS', 'PYTENSOR_FLAGS'):
        flags = os.environ.get(variable, '')
        os.environ[variable] = ','.join(
            f for f in (flags, 'base_compiledir=' + base) if f)
    os.environ['THEANETS_COMPILE_JOBS'] = '1'
    compiler, modules = record_modules()
    from theanets import backend
    print('backend {}; {} modules recorded, {} KB of source'.format(
        backend.name(), len(modules),
        sum(len(m[1]) for m in modules) // 1024))
    compiler.jobs, compiler.batch = 2, True
    print('theanets\' batches with 2 jobs: {} modules'.format(' + '.join(
        str(len(batch)) for batch in compiler._batches(
            [(m[0], m) for m in modules]))))
    rows, kept = [], {}
    for number in range(rounds):
        for name, jobs, batch in VARIANTS:
            cpu, wall, libraries, signatures = stage_all(
                compiler, modules, jobs, batch)
            rows.append((name, jobs, number, cpu, wall))
            if number == rounds - 1 and (name, jobs) in (('separate', 1),
                                                         ('batches', 2)):
                # kept for the checks below: out of the compiler's hands
                # (the next variant stages the same modules again), their
                # files stay until the staging directory goes at exit
                kept[name] = libraries
                for signature in signatures:
                    compiler._staged.pop(signature, None)
            else:
                compiler._discard(signatures)
    print('\n{:10} {:>5} {:>6} {:>11} {:>8} {:>10}'.format(
        'build', 'jobs', 'round', 'g++ CPU s', 'wall s', 'CPU ratio'))
    for name, jobs, number, cpu, wall in rows:
        reference = [r[3] for r in rows if r[:3] == ('separate', 1, number)]
        print('{:10} {:>5} {:>6} {:>11.2f} {:>8.2f} {:>9.2f}x'.format(
            name, jobs, number, cpu, wall, cpu / reference[0]))
    separate, batched = kept['separate'], kept['batches']
    failed = check_loading(compiler, batched, modules)
    print('\nmodules imported from their batch library: {} of {}{}'.format(
        len(modules) - len(failed), len(modules),
        '' if not failed else '; failed: ' + ', '.join(failed)))
    if shutil.which('objdump'):
        same, differ, details = compare_float_code(separate, batched,
                                                   modules)
        print('functions with the same float instructions and math calls '
              'alone and in their batch: {} of {}'.format(same,
                                                          same + differ))
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
