import os
import pathlib
import re
import runpy

import setuptools
from setuptools.command.build_py import build_py

try:
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:  # setuptools < 64 has no PEP 660 editable installs
    editable_wheel = None

HERE = os.path.dirname(os.path.abspath(__file__))


def read(*names):
    with open(os.path.join(HERE, *names), encoding='utf-8') as handle:
        return handle.read()


#: theanets/_import_hook.py: the import hook that prepares Theano when
#: ``import theano`` comes before ``import theanets``. It needs only the
#: standard library, so it runs here without importing theanets.
IMPORT_HOOK = runpy.run_path(os.path.join(HERE, 'theanets', '_import_hook.py'))


def import_hook_files():
    """Return ``{name: content}`` of the files the hook needs in site-packages.

    A copy of the hook's module, importable at interpreter start without
    importing theanets, and the .pth file whose line imports it.
    """
    return {
        IMPORT_HOOK['MODULE_NAME'] + '.py': read('theanets', '_import_hook.py'),
        IMPORT_HOOK['PTH_NAME']: IMPORT_HOOK['pth_line'](),
    }


class BuildPyWithImportHook(build_py):
    """build_py that also puts the import hook's files at the wheel's root."""

    def run(self):
        super().run()
        if not getattr(self, 'editable_mode', False):
            for name, content in import_hook_files().items():
                path = os.path.join(self.build_lib, name)
                with open(path, 'w', encoding='utf-8') as handle:
                    handle.write(content)

    def get_outputs(self, *args, **kwargs):
        outputs = super().get_outputs(*args, **kwargs)
        if getattr(self, 'editable_mode', False):
            return outputs
        return outputs + [os.path.join(self.build_lib, name)
                          for name in import_hook_files()]


class _StrategyWithImportHook:
    """Wraps a setuptools editable strategy to add the hook's files too."""

    def __init__(self, strategy):
        self.strategy = strategy

    def __enter__(self):
        self.strategy.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self.strategy.__exit__(*exc_info)

    def __call__(self, wheel, files, mapping):
        self.strategy(wheel, files, mapping)
        for name, content in import_hook_files().items():
            wheel.writestr(name, content.encode('utf-8'))


COMMANDS = {'build_py': BuildPyWithImportHook}

if hasattr(editable_wheel, '_select_strategy'):
    class EditableWheelWithImportHook(editable_wheel):
        """editable_wheel whose wheel carries the import hook's files.

        Editable wheels hold links to the source, not build_py's outputs, so
        the files are added by the install strategy, through a private
        method of setuptools (64 and later). Where it is missing, an
        editable install has no hook, and theanets warns when Theano is
        imported before it. The hook's module is copied, not linked: edits
        to theanets/_import_hook.py need a new ``pip install -e`` (the
        preparation it hands over to, theanets/_theano_env.py, is read from
        the source tree).
        """

        def _select_strategy(self, *args, **kwargs):
            strategy = super()._select_strategy(*args, **kwargs)
            return _StrategyWithImportHook(strategy)

    COMMANDS['editable_wheel'] = EditableWheelWithImportHook


#: Environment markers of the two backends (see theanets/backend.py):
#: Theano 1.0.5 runs on no Python after 3.11, and PyTensor needs numpy 2,
#: which Theano cannot run with.
THEANO_PYTHON = 'python_version < "3.12"'
PYTENSOR_PYTHON = 'python_version >= "3.12"'


def on_theano(*requirements):
    """The requirements, for the Pythons that get the Theano backend.

    (The space before the semicolon ends a direct reference's URL.)
    """
    return ['{} ; {}'.format(r, THEANO_PYTHON) for r in requirements]


def on_pytensor(*requirements):
    """The requirements, for the Pythons that get the PyTensor backend."""
    return ['{} ; {}'.format(r, PYTENSOR_PYTHON) for r in requirements]


#: The stand-in "theano" distribution of backends/theano-pytensor. downhill
#: 0.4.0 requires ``theano``, which cannot be built on Python 3.12+; this
#: tiny package satisfies that requirement there, and its ``import theano``
#: gives theanets' PyTensor facade. A direct reference to this source tree's
#: own copy, so ``pip install .`` needs no extra flag (and a wheel built from
#: here names this directory: such wheels are for this machine, not an index).
THEANO_STAND_IN = 'theano @ ' + pathlib.Path(
    HERE, 'backends', 'theano-pytensor').as_uri()

# Both backends: downhill's optimizers, click (theanets' command line) and
# the OpenBLAS that theanets links Theano's or PyTensor's C code against.
COMMON = [
    'downhill==0.4.0',
    'click',
    'scipy-openblas32; platform_system=="Linux"',
]
# Theano 1.0.5: faithful to theanets 0.8. It runs with numpy 1.23 (no
# later numpy) and with the scipy releases built against it.
THEANO = on_theano('numpy>=1.23,<1.24', 'scipy>=1.9,<1.12', 'Theano==1.0.5')
# PyTensor 3 (Python 3.12+, numpy 2): the releases theanets' facade was
# written and tested with; no upper bounds, none is known to break.
PYTENSOR = on_pytensor('numpy>=2', 'scipy>=1.13', 'pytensor>=3.3',
                       THEANO_STAND_IN)
# The [pytensor] extra asks for the PyTensor that the PyTensor backend needs
# (THEANETS_BACKEND=pytensor). On Python 3.12+ the core install has it
# already; on Python 3.11 pip cannot install it, and says so: PyTensor 3.3
# needs Python 3.12 and numpy 2, and no PyTensor that runs with Theano's
# numpy 1.23 has the modules theanets' facade uses (2.27 and older have
# another layout; 2.28 to 2.34 install beside numpy 1.23 but need 1.25 to
# import). See theanets/_theano_env.py, PYTENSOR_MINIMUM.
PYTENSOR_EXTRA = ['pytensor>=3.3']

# PyTensor's JAX linker (PYTENSOR_FLAGS=mode=JAX): theanets' graphs compiled
# by jax.jit, for the processor or, with a CUDA jaxlib (pip install
# "jax[cuda12]"), a GPU. Theano has no JAX linker.
JAX = on_pytensor('jax>=0.11')

TQDM = 'tqdm>=4.60'
# Extras pin, on Python 3.11, the releases that still support numpy 1.23;
# on 3.12+ (numpy 2) any recent release.
SKLEARN = on_theano('scikit-learn>=1.3,<1.6') + on_pytensor('scikit-learn>=1.3')
PLOT = (on_theano('matplotlib>=3.5,<3.9', 'contourpy<1.3') +
        on_pytensor('matplotlib>=3.8'))
PANDAS = on_theano('pandas<2.3') + on_pytensor('pandas>=2.2')
NOTEBOOK = ['nbclient', 'nbformat', 'ipykernel']
# tqdm draws its progress bar as a widget in Jupyter; without ipywidgets it
# warns "IProgress not found" and prints text bars instead.
WIDGETS = ['ipywidgets>=8']
# ONNX export. On Python 3.11 (Theano, numpy 1.23) the releases that
# install beside numpy 1.23; later Pythons can take newer ones.
ONNX = on_theano('onnx>=1.16,<1.17') + on_pytensor('onnx>=1.16')
ONNXRUNTIME = (on_theano('onnxruntime>=1.19,<1.20') +
               on_pytensor('onnxruntime>=1.19'))
# Out-of-core data and clusters: dask arrays, dask-ml's wrappers, HDF5
# (h5py) and zarr stores. Lower bounds only; pip picks the releases that
# install beside the backend's numpy.
# dask-ml 2025.1 (the newest) runs HyperbandSearchCV in an asynchronous
# client that later distributed releases refuse inside dask.compute
# (measured on Python 3.13: distributed 2026.8 fails, 2025.1.0 works).
DASK = ['dask[array,distributed]>=2023.1; python_version < "3.12"',
        'dask[array,distributed]>=2024.8,<2025.2; python_version >= "3.12"',
        'dask-ml>=2023.3', 'h5py>=3.8', 'zarr>=2.13']

VERSION = re.search(r"__version__ = '([^']+)'",
                    read('theanets', '__init__.py')).group(1)

setuptools.setup(
    name='theanets',
    version=VERSION,
    description='Feedforward and recurrent neural nets using Theano or PyTensor',
    long_description=read('README.md'),
    long_description_content_type='text/markdown',
    author='theanets developers',
    license='MIT',
    keywords='neural network, deep learning, theano, pytensor, machine learning',
    packages=setuptools.find_packages(exclude=['tests', 'tests.*']),
    # C++ kernels of the fused recurrent Ops, compiled by Theano at run time.
    package_data={'theanets.ops': ['kernels/*.cpp']},
    # Python 3.11: Theano 1.0.5; 3.12 and newer: PyTensor (see README.md).
    python_requires='>=3.11',
    install_requires=COMMON + THEANO + PYTENSOR,
    extras_require={
        'pytensor': PYTENSOR_EXTRA,
        'progress': [TQDM],
        'plot': PLOT,
        'sklearn': SKLEARN,
        'notebook': NOTEBOOK + WIDGETS + [TQDM] + PLOT,
        'onnx': ONNX,
        'dask': DASK,
        'jax': JAX,
        'docs': ['sphinx>=7'] + SKLEARN,
        # pandas lets scikit-learn's estimator checks test DataFrame input.
        # wheel: the packaging test builds a wheel without build isolation,
        # which setuptools < 70.1 cannot do without it.
        'test': (['pytest>=7', 'hypothesis', TQDM, 'sphinx>=7', 'wheel'] +
                 SKLEARN + PANDAS + PLOT + NOTEBOOK + ONNX + ONNXRUNTIME +
                 JAX),
        # Peers for the side-by-side benchmarks; never part of the core install.
        'bench': ['torch==2.13.0'] + SKLEARN,
    },
    cmdclass=COMMANDS,
    entry_points={
        'console_scripts': ['theanets = theanets.__main__:main'],
    },
    classifiers=[
        'Development Status :: 4 - Beta',
        'Intended Audience :: Science/Research',
        'License :: OSI Approved :: MIT License',
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
        'Programming Language :: Python :: 3.13',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
