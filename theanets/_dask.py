"""Theano compile directories for the workers of a Dask cluster.

Every Dask worker process that trains or runs a theanets model compiles
Theano's C code into a compile directory. Theano locks a compile directory
while it writes to it, so any number of workers may share one directory
(``~/.theano``, or a folder on a shared disk); they then wait for each other
while one of them compiles, and each module is compiled only once. A
directory per worker removes that waiting at the price of compiling every
module once per worker, and keeps the lock off network file systems, whose
locks are slow or unreliable.

:class:`TheanoCompileDir` is a ``distributed`` nanny plugin that chooses the
directory for every worker of a cluster, shared or one per worker; register
it with :func:`theanets.estimators.dask_compile_dir` or
``client.register_plugin``. This module imports ``distributed``; ``import
theanets`` never imports it.
"""

import logging
import os
import re
import socket

try:
    from distributed.diagnostics.plugin import NannyPlugin
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "theanets' Dask support needs dask.distributed, which is not "
        "installed; install it with: pip install 'theanets[dask]'") from error

from . import _theano_env
from .exceptions import ConfigurationError

__all__ = ['TheanoCompileDir', 'compile_dir_flags']

_logger = logging.getLogger('theanets')

#: The Theano flags that choose a compile directory.
_COMPILE_DIR_FLAGS = ('base_compiledir', 'compiledir')


def compile_dir_flags(directory, theano_flags=None):
    """The ``THEANO_FLAGS`` value that makes Theano compile in ``directory``.

    Parameters
    ----------
    directory : str
        The directory, used as Theano's ``base_compiledir`` (Theano makes a
        ``compiledir_<platform>`` folder in it).
    theano_flags : str or None, optional
        The ``THEANO_FLAGS`` the process would otherwise get. Defaults to
        None (no flags).

    Returns
    -------
    str or None
        ``theano_flags`` with ``base_compiledir`` added, or None when the
        user already chose a compile directory (``base_compiledir`` or
        ``compiledir`` in ``theano_flags`` or in a ``.theanorc`` file):
        the user's choice wins.

    Raises
    ------
    theanets.util.ConfigurationError
        If ``directory`` holds a comma, which ``THEANO_FLAGS`` cannot hold.

    Examples
    --------
    >>> compile_dir_flags('/scratch/theano', 'floatX=float32')
    'base_compiledir=/scratch/theano,floatX=float32'
    >>> compile_dir_flags('/scratch/theano', 'base_compiledir=/mine') is None
    True
    """
    directory = str(directory)
    if ',' in directory:
        raise ConfigurationError(
            'compile directory: THEANO_FLAGS cannot hold a path with a comma, '
            'got {!r}'.format(directory))
    user = _theano_env.user_flags(theano_flags or '')
    if any(name in user for name in _COMPILE_DIR_FLAGS):
        return None
    flag = 'base_compiledir={}'.format(directory)
    # Theano gives later entries precedence; the user's flags come last.
    return '{},{}'.format(flag, theano_flags) if theano_flags else flag


def _worker_label(nanny):
    """A folder name for the worker of ``nanny``: its name, if it has one
    (``LocalCluster`` numbers its workers; ``dask worker --name``), else the
    host and the nanny's process id."""
    name = getattr(nanny, 'name', None)
    if name is None:
        name = '{}-{}'.format(socket.gethostname(), os.getpid())
    return re.sub(r'[^A-Za-z0-9_.-]', '_', str(name))


class TheanoCompileDir(NannyPlugin):
    """Choose the Theano compile directory of every worker of a cluster.

    A nanny plugin: registering it sets ``THEANO_FLAGS`` for the worker
    processes of every nanny, present and future, and restarts the running
    workers so that Theano, which reads its flags once at import, starts
    with them. Workers must run under a nanny (the default of ``dask
    worker`` and of ``LocalCluster(processes=True)``). A worker whose
    ``THEANO_FLAGS`` (e.g. from ``LocalCluster(env=...)`` or the worker's
    environment) or ``.theanorc`` already chooses ``base_compiledir`` or
    ``compiledir`` keeps that choice.

    Parameters
    ----------
    path : str or path
        The compile directory, as a path on the worker machines (``~`` is
        that of the user running the worker). Created by Theano if missing.
    per_worker : bool, optional
        If True (the default), every worker compiles into a folder of its
        own, ``path/<worker name>`` (workers without a name use the host
        name and the nanny's process id, which change when the nanny
        restarts: give workers names to keep their caches). If False, all
        workers share ``path``; Theano's lock makes that safe.

    Examples
    --------
    >>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
    >>> from theanets._dask import TheanoCompileDir  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2))  # doctest: +SKIP
    >>> client.register_plugin(
    ...     TheanoCompileDir('/tmp/theano-workers'))  # doctest: +SKIP
    """

    #: Restart running workers when registered: Theano reads flags once.
    restart = True

    #: A later registration replaces an earlier one.
    idempotent = False

    #: The plugin's name on the cluster (one such plugin at a time).
    name = 'theanets-compile-dir'

    def __init__(self, path, per_worker=True):
        self.path = os.fspath(path)
        self.per_worker = bool(per_worker)
        compile_dir_flags(self.path)  # refuse a path THEANO_FLAGS cannot hold

    def directory(self, nanny):
        """The compile directory of the worker of ``nanny``."""
        path = os.path.expanduser(self.path)
        if self.per_worker:
            path = os.path.join(path, _worker_label(nanny))
        return path

    def setup(self, nanny):
        """Put the compile directory into the worker's ``THEANO_FLAGS``."""
        current = nanny.env.get('THEANO_FLAGS',
                                os.environ.get('THEANO_FLAGS'))
        directory = self.directory(nanny)
        flags = compile_dir_flags(directory, current)
        if flags is None:
            _logger.info('worker %s keeps the compile directory its Theano '
                         'flags choose', getattr(nanny, 'name', None))
            return
        nanny.env['THEANO_FLAGS'] = flags
