"""Tests of theanets._c_batches: several C modules in one translation unit
(the source of a batch, which modules share one, its g++ arguments)."""

import pytest

from theanets import _c_batches

HEADERS = ('<Python.h>', '"helper.h"')


def module_source(name, headers=HEADERS, body=None):
    return ''.join('#include {}\n'.format(h) for h in headers) + (
        body if body is not None else
        '#define SIZE 2\nint {0}_data[SIZE];\n'.format(name))


def test_include_block_stops_at_the_first_other_line():
    source = ('#include <Python.h>\n\n#include "helper.h"\n'
              '#define X 1\n#include <math.h>\nint x;\n')
    assert _c_batches.include_block(source) == ['<Python.h>', '"helper.h"']


def test_unity_source_keeps_each_module_apart():
    sources = [module_source('m1'), module_source('m2', body='int x;\n')]
    unity = _c_batches.unity_source(sources)
    assert unity.startswith('#include <Python.h>\n#include "helper.h"\n'
                            '#pragma push_macro("SIZE")\n')
    assert unity.count('#include') == 2
    assert 'namespace theanets_module_0 {\n#line 3 "mod.cpp"\n#define SIZE' \
        in unity
    assert '#pragma pop_macro("SIZE")\nnamespace theanets_module_1 {' in unity


def test_unity_source_includes_the_union_of_the_standard_headers():
    first = module_source('m1', headers=HEADERS + ('<vector>',
                                                   '<algorithm>'))
    second = module_source('m2', headers=HEADERS + ('<iostream>',
                                                    '<time.h>'))
    assert _c_batches.batch_key(('m1', first, [], [], [], [])) == \
        _c_batches.batch_key(('m2', second, [], [], [], []))
    unity = _c_batches.unity_source([first, second])
    assert unity.startswith(
        '#include <Python.h>\n#include "helper.h"\n#include <vector>\n'
        '#include <algorithm>\n#include <iostream>\n#include <time.h>\n'
        '#pragma')
    # the second module's code keeps its own line numbers
    assert 'namespace theanets_module_1 {\n#line 5 "mod.cpp"' in unity


@pytest.mark.parametrize('second, message', [
    (module_source('m2', headers=('<Python.h>',)), 'includes'),
    (module_source('m2', body='int x;\n#include <vector>\n'), 'directive'),
    (module_source('m2', body='#pragma GCC optimize("O0")\nint x;\n'),
     'directive'),
    (module_source('m2', body='using namespace std;\nint x;\n'),
     'directive')])
def test_unity_source_refuses_modules_that_would_change_each_other(
        second, message):
    with pytest.raises(ValueError, match=message):
        _c_batches.unity_source([module_source('m1'), second])


def test_modules_that_link_differently_share_a_batch():
    blas = ('m2', module_source('m2'), ['/inc'], ['/blas/lib'], ['blas'],
            ['-O3', '-Wl,-rpath,/blas/lib', '-DX=1'])
    other = ('m3', module_source('m3'), ['/inc'], ['/other'], ['m'],
             ['-O3', '-DX=1', '-lrt'])
    plain = ('m1', module_source('m1'), ['/inc'], [], [], ['-O3', '-DX=1'])
    assert (_c_batches.batch_key(blas) == _c_batches.batch_key(plain) ==
            _c_batches.batch_key(other))
    assert _c_batches.batch_arguments([plain, blas, other]) == (
        ['/inc'], ['/blas/lib', '/other'], ['blas', 'm'],
        ['-O3', '-DX=1', '-Wl,-rpath,/blas/lib', '-lrt'])
    # a compile argument of its own keeps a module apart
    optimised = plain[:5] + (['-O2', '-DX=1'],)
    assert _c_batches.batch_key(optimised) != _c_batches.batch_key(plain)
