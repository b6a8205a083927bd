"""Stand-in for Theano on Python 3.12 and newer: theanets' PyTensor facade.

Importing this module replaces ``sys.modules['theano']`` with the facade of
:mod:`theanets._pytensor_theano`, whose ``theano``, ``theano.tensor`` and
other modules resolve to PyTensor; ``import theano`` therefore returns the
facade, not this module. theanets' package itself is not imported here:
this import often comes from ``import downhill``, and theanets needs
downhill complete (see ``install_pytensor_facade`` in
``theanets/_theano_env.py``, which is loaded by its path for that reason).
"""

# First: marks this module as the stand-in, which the facade may replace
# (theanets refuses to start PyTensor beside a real Theano).
_theanets_shim = True


def _theano_env():
    """theanets' ``_theano_env`` module, imported without its package."""
    import importlib.util
    import os
    import sys
    module = sys.modules.get('theanets._theano_env')
    if module is not None:
        return module
    package = importlib.util.find_spec('theanets')
    location = package and package.submodule_search_locations and os.path.join(
        package.submodule_search_locations[0], '_theano_env.py')
    if not location or not os.path.isfile(location):
        raise ImportError(
            'this "theano" is the stand-in that theanets installs on Python '
            '3.12 and newer, to run Theano code on PyTensor; it needs '
            'theanets, which is not installed')
    spec = importlib.util.spec_from_file_location('theanets._theano_env',
                                                  location)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


_theano_env().install_pytensor_facade()
