"""Several C modules in one translation unit: the batches of
:mod:`theanets._c_compile`.

A function's uncached modules that share their compile arguments and
include block are compiled by one ``g++`` run (see :func:`group`): the
include block once, then each module's code in a namespace of its own
(:func:`unity_source`). Everything here works on the modules' source and
``g++`` arguments only; compiling, staging and installing the libraries
stay in :mod:`theanets._c_compile`.
"""

import re

#: Modules per batch at most: the saving per module levels off after a
#: few, while one translation unit's memory and time keep growing and a
#: big batch leaves the other jobs idle at the end.
MAX_BATCH = 16


def _split_source(src_code):
    """(the ``#include`` targets at the top of a module, lines they take)."""
    headers = []
    lines = src_code.split('\n')
    count = 0
    for count, line in enumerate(lines):
        line = line.strip()
        if not line:
            continue
        if not line.startswith('#include'):
            break
        headers.append(line[len('#include'):].strip())
    else:
        count = len(lines)
    return headers, count


def include_block(src_code):
    """The ``#include`` lines at the top of a module's source, in order."""
    return _split_source(src_code)[0]


_DIRECTIVE = re.compile(r'^[ \t]*#[ \t]*(\w+)[ \t]*(\w*)', re.M)
#: Preprocessor directives a module's code may use inside a batch: the
#: others (a later ``#include``, a ``#pragma`` that would reach the next
#: module, ``#line``) keep the module out of batches.
_BATCHABLE_DIRECTIVES = frozenset(
    ['define', 'undef', 'if', 'ifdef', 'ifndef', 'elif', 'else', 'endif',
     'error', 'warning'])


#: ``using namespace`` in a module's code would let the standard headers
#: other modules of its batch include reach its unqualified names.
_USING_NAMESPACE = re.compile(r'\busing\s+namespace\b')


def _batch_body(src_code):
    """(include block, first line of the code, the code), or None when the
    module's code cannot share a translation unit with others."""
    headers, count = _split_source(src_code)
    body = '\n'.join(src_code.split('\n')[count:])
    for directive, _ in _DIRECTIVE.findall(body):
        if directive not in _BATCHABLE_DIRECTIVES:
            return None
    if _USING_NAMESPACE.search(body):
        return None
    return tuple(headers), count + 1, body


#: Standard headers a module may include beyond the others of its batch:
#: they declare only C functions and ``std::`` templates, which code that
#: does not use them cannot see (a module saying ``using namespace`` is
#: compiled alone), so a batch includes the union of its modules' ones.
STANDARD_HEADERS = frozenset(['<iostream>', '<vector>', '<algorithm>',
                              '<cmath>', '<time.h>', '<sys/time.h>'])


def _own_headers(headers):
    """A module's include block without :data:`STANDARD_HEADERS`."""
    return tuple(h for h in headers if h not in STANDARD_HEADERS)


def unity_source(sources):
    """One translation unit holding the code of several modules apart.

    Parameters
    ----------
    sources : list of str
        Modules' sources, each starting with an ``#include`` block; the
        blocks may differ only in :data:`STANDARD_HEADERS`.

    Returns
    -------
    str
        The modules' include lines (each once, in the order they first
        appear), then each module's code in a namespace of its
        own (``theanets_module_<n>``), the macros it defines or undefines
        saved before and restored after it, and a ``#line`` directive that
        gives its lines their numbers in the module's own ``mod.cpp``.

    Raises
    ------
    ValueError
        When the include blocks differ, or a module's code uses a directive
        that would reach the modules after it or says ``using namespace``.

    Examples
    --------
    >>> print(unity_source(['#include <math.h>\\n#define K 2\\nint k = K;',
    ...                     '#include <math.h>\\nint k = 3;']))
    #include <math.h>
    #pragma push_macro("K")
    namespace theanets_module_0 {
    #line 2 "mod.cpp"
    #define K 2
    int k = K;
    }
    #pragma pop_macro("K")
    namespace theanets_module_1 {
    #line 2 "mod.cpp"
    int k = 3;
    }
    <BLANKLINE>
    """
    block, parts = None, []
    for number, source in enumerate(sources):
        split = _batch_body(source)
        if split is None:
            raise ValueError('module {} uses a directive (or ``using '
                             'namespace``) that would reach the modules '
                             'around it'.format(number))
        headers, first_line, body = split
        if block is None:
            block = list(headers)
        elif _own_headers(headers) != _own_headers(block):
            raise ValueError('module {} includes {}, not {}'.format(
                number, list(headers), block))
        block += [h for h in headers if h not in block]
        macros = sorted({name for directive, name in _DIRECTIVE.findall(body)
                         if directive in ('define', 'undef') and name})
        parts += ['#pragma push_macro("{}")\n'.format(m) for m in macros]
        parts.append('namespace theanets_module_{} {{\n#line {} "mod.cpp"\n'
                     '{}\n}}\n'.format(number, first_line, body))
        parts += ['#pragma pop_macro("{}")\n'.format(m) for m in macros]
    return ''.join('#include {}\n'.format(h) for h in block) + ''.join(parts)


def _links(argument):
    """Whether a ``g++`` argument is for the linker only (``-L``, ``-l``,
    ``-Wl,``): such arguments do not change the code compiled."""
    return argument.startswith(('-Wl,', '-L')) or (
        argument.startswith('-l') and len(argument) > 2)


def batch_key(arguments):
    """What modules compiled together share, or None for a module that is
    compiled on its own: the include block (but for the standard headers
    of :data:`STANDARD_HEADERS`), the include directories and the compile
    arguments in order. What they link may differ (the BLAS
    modules link a BLAS library): the batch links the union."""
    _, src_code, include_dirs, _, _, preargs = arguments
    split = _batch_body(src_code)
    if split is None:
        return None
    return (_own_headers(split[0]), tuple(include_dirs or ()),
            tuple(a for a in preargs or () if not _links(a)))


def batch_arguments(modules):
    """(include dirs, lib dirs, libs, arguments) of a batch's ``g++`` run:
    the modules' shared compile arguments, then the union of what they
    link."""
    def union(lists):
        merged = []
        for items in lists:
            merged += [item for item in items or () if item not in merged]
        return merged

    include_dirs, preargs = modules[0][2], modules[0][5] or []
    compiling = [a for a in preargs if not _links(a)]
    linking = union([a for a in m[5] or () if _links(a)] for m in modules)
    return (include_dirs, union(m[3] for m in modules),
            union(m[4] for m in modules), compiling + linking)


def group(jobs, job_count):
    """Split staged modules into batches for ``job_count`` jobs.

    Modules with the same :func:`batch_key` are split into batches of about
    ``len(jobs) / job_count`` (at most :data:`MAX_BATCH`; a group capped at
    that is split into a multiple of ``job_count``, so that no job idles at
    the end); a module that cannot share a translation unit is a batch of
    its own. The batches with the most source come first, so that they
    start first.

    Parameters
    ----------
    jobs : list of (signature, arguments)
        ``arguments`` are ``compile_str``'s: module name, source, include
        directories, library directories, libraries, compile arguments.
    job_count : int
        How many batches compile at once.

    Returns
    -------
    list of lists of (signature, arguments)
    """
    size = min(-(-len(jobs) // job_count), MAX_BATCH)
    similar = {}
    batches = []
    for job in jobs:
        key = batch_key(job[1])
        if key is None:
            batches.append([job])
        else:
            similar.setdefault(key, []).append(job)
    for members in similar.values():
        count = -(-len(members) // size)
        if count > job_count:
            count = -(-count // job_count) * job_count
        batches += [members[len(members) * i // count:
                            len(members) * (i + 1) // count]
                    for i in range(count)]
    batches.sort(key=lambda batch: -sum(len(arguments[1])
                                        for _, arguments in batch))
    return batches
