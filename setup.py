import os
import re

import setuptools

HERE = os.path.dirname(os.path.abspath(__file__))


def read(*names):
    with open(os.path.join(HERE, *names), encoding='utf-8') as handle:
        return handle.read()


TQDM = 'tqdm>=4.60'
SKLEARN = 'scikit-learn>=1.3,<1.6'
PLOT = ['matplotlib>=3.5,<3.9', 'contourpy<1.3']
NOTEBOOK = ['nbclient', 'nbformat', 'ipykernel']
# tqdm draws its progress bar as a widget in Jupyter; without ipywidgets it
# warns "IProgress not found" and prints text bars instead.
WIDGETS = ['ipywidgets>=8']
# ONNX export. On Python < 3.12 (Theano, numpy 1.23) the releases that
# install beside numpy 1.23; later Pythons can take newer ones.
ONNX = ['onnx>=1.16,<1.17; python_version < "3.12"',
        'onnx>=1.16; python_version >= "3.12"']
ONNXRUNTIME = ['onnxruntime>=1.19,<1.20; python_version < "3.12"',
               'onnxruntime>=1.19; python_version >= "3.12"']

VERSION = re.search(r"__version__ = '([^']+)'",
                    read('theanets', '__init__.py')).group(1)

setuptools.setup(
    name='theanets',
    version=VERSION,
    description='Feedforward and recurrent neural nets using Theano',
    long_description=read('README.md'),
    long_description_content_type='text/markdown',
    author='theanets developers',
    license='MIT',
    keywords='neural network, deep learning, theano, machine learning',
    packages=setuptools.find_packages(exclude=['tests', 'tests.*']),
    # C++ kernels of the fused recurrent Ops, compiled by Theano at run time.
    package_data={'theanets.ops': ['kernels/*.cpp']},
    python_requires='>=3.9',
    install_requires=[
        'numpy>=1.23,<1.24',
        'scipy>=1.9,<1.12',
        'Theano==1.0.5',
        'downhill==0.4.0',
        'click',
        'scipy-openblas32; platform_system=="Linux"',
    ],
    extras_require={
        # Optional features; each pins what still supports numpy 1.23.
        'progress': [TQDM],
        'plot': PLOT,
        'sklearn': [SKLEARN],
        'notebook': NOTEBOOK + WIDGETS + [TQDM] + PLOT,
        'onnx': ONNX,
        'docs': ['sphinx>=7', SKLEARN],
        # pandas lets scikit-learn's estimator checks test DataFrame input.
        'test': ['pytest>=7', 'hypothesis', TQDM, SKLEARN, 'pandas<2.3',
                 'sphinx>=7'] + PLOT + NOTEBOOK + ONNX + ONNXRUNTIME,
        # Peers for the side-by-side benchmarks; never part of the core install.
        'bench': ['torch==2.13.0', SKLEARN],
    },
    entry_points={
        'console_scripts': ['theanets = theanets.__main__:main'],
    },
    classifiers=[
        'Development Status :: 4 - Beta',
        'Intended Audience :: Science/Research',
        'License :: OSI Approved :: MIT License',
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3.11',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
