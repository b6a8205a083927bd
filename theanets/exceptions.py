"""Every error class theanets raises.

The public ones are also importable from :mod:`theanets.util` (where they
were defined before) and from the package itself. Several errors are also
instances of a built-in exception class, so that code written against
theanets 0.8, which raised ``KeyError``, ``ValueError`` or ``TypeError`` in
those places, keeps catching them:

==================================  =====================
class                               also a
==================================  =====================
:class:`ConfigurationError`         --
:class:`UnknownNameError`           ``KeyError``
:class:`UnknownKeywordError`        ``TypeError``
:class:`DataError`                  ``ValueError``
:class:`TrainingError`              ``ValueError``
:class:`ModelFileError`             ``ValueError``
:class:`MissingModelFileError`      ``FileNotFoundError``
:class:`ModelFileWriteError`        ``OSError``
==================================  =====================

This module imports nothing from theanets, so every other module can use it.

Examples
--------
>>> issubclass(DataError, ValueError), issubclass(UnknownNameError, KeyError)
(True, True)
"""

__all__ = ['Error', 'ConfigurationError', 'DataError', 'DataExhaustedError',
           'TrainingError',
           'ModelFileError', 'MissingModelFileError', 'UnknownNameError',
           'UnknownKeywordError', 'ModelFileWriteError',
           'NegativeLabelWarning']


class Error(Exception):
    """Base class of the errors theanets raises."""


class ConfigurationError(Error):
    """A model, layer, loss or regularizer was configured incorrectly."""


class DataError(Error, ValueError):
    """An array given to a model does not fit the variable that receives it.

    Raised before any Theano function sees the data; the message names the
    argument and gives the expected and the actual shape, dtype or values.
    It is a :class:`ValueError`.
    """


class DataExhaustedError(DataError):
    """A one-shot source of batches (e.g. a generator) ran out.

    Raised by the training data; the epoch loop catches it and ends
    training as it does for any other stop (validation where possible, the
    best parameters kept), with a warning carrying this message.
    """


class TrainingError(Error, ValueError):
    """Training cannot go on, e.g. because the loss became NaN or infinite.

    The model's parameters are left at their values after the last epoch
    whose monitors were all finite. It is a :class:`ValueError`.
    """


class ModelFileError(Error, ValueError):
    """A model file cannot be read or written.

    Raised by :meth:`theanets.Network.load` for a missing, truncated or
    corrupt file and for a file that holds no theanets model, and by
    :meth:`theanets.Network.save` for a model the safe ``.npz`` format cannot
    describe. It is a :class:`ValueError`.
    """


class MissingModelFileError(ModelFileError, FileNotFoundError):
    """The model file to load does not exist (also a FileNotFoundError)."""


class NegativeLabelWarning(UserWarning):
    """Class labels below zero were given to a classifier.

    As in theanets 0.8, label ``-k`` means class ``num_classes - k``
    (numpy indexing), so labels in ``{-1, 1}`` for two classes both mean
    class 1. Issued once per process, the first time negative labels are
    seen.
    """


class ModelFileWriteError(ModelFileError, OSError):
    """A model file cannot be written (also an OSError with its ``errno``).

    Raised by :meth:`theanets.Network.save` for a full disk, a folder
    without write permission or a read-only file; the message names the
    path the caller gave (not the temporary file), and ``errno`` and
    ``filename`` are those of an :class:`OSError`.
    """

    def __init__(self, errno, message, filename=None):
        OSError.__init__(self, errno, message, filename)

    def __str__(self):
        return self.strerror


class UnknownNameError(KeyError, ConfigurationError):
    """A registry lookup used a name that is not registered.

    It is a :class:`KeyError` (as the original library raised) and a
    :class:`ConfigurationError` (as this project's convention asks), so
    ``except KeyError`` and ``except ConfigurationError`` both catch it.
    """

    def __init__(self, key, family, known):
        self.key = key
        self.family = family
        self.known = sorted(known)
        super().__init__(key)

    def __str__(self):
        return 'unknown {} {!r}; known names are: {}'.format(
            self.family, self.key, ', '.join(self.known))


# Errors of particular configuration mistakes. Each is a ConfigurationError
# and the built-in exception theanets 0.8 raised in that place.

class ConfigKeyError(KeyError, ConfigurationError):
    """A required argument is missing (also a KeyError)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ''


class ConfigValueError(ValueError, ConfigurationError):
    """An argument has an invalid value (also a ValueError)."""


class ConfigTypeError(TypeError, ConfigurationError):
    """A specification has the wrong type or cannot be built (a TypeError)."""


class UnknownKeywordError(TypeError, ConfigurationError):
    """A call got keyword arguments it does not know (also a TypeError).

    Python raises a :class:`TypeError` for an unexpected keyword argument;
    this error is one too, and a :class:`ConfigurationError`. Raised by
    :meth:`theanets.Network.train` and ``itertrain`` for training keywords
    that no dataset, optimizer, monitor or regularizer reads.

    Parameters
    ----------
    message : str
        The whole message: the unknown keywords, what each probably meant
        and the known keywords.
    keywords : sequence of str
        The unknown keywords, in the order of the call.
    suggestions : dict, optional
        Maps an unknown keyword to the known one it probably meant (only
        those for which there is a likely candidate).

    Examples
    --------
    >>> error = UnknownKeywordError("unknown keyword 'lr'", ['lr'],
    ...                             {'lr': 'learning_rate'})
    >>> isinstance(error, TypeError), error.suggestions['lr']
    (True, 'learning_rate')
    """

    def __init__(self, message, keywords, suggestions=None):
        super().__init__(message)
        self.keywords = list(keywords)
        self.suggestions = dict(suggestions or {})


class UnknownActivationError(UnknownNameError):
    """An activation name is neither a common name nor a registered class."""

    def __init__(self, key, known, hint=''):
        super().__init__(key, 'activation', known)
        self.hint = hint

    def __str__(self):
        text = super().__str__()
        return '{} ({})'.format(text, self.hint) if self.hint else text


class MissingSizeError(KeyError, ConfigurationError):
    """An input layer got neither ``size`` nor ``shape``.

    A :class:`KeyError` for the key ``'size'`` (as the original raised) that
    is also a :class:`ConfigurationError`.
    """

    def __init__(self, name):
        super().__init__('size')
        self.layer_name = name

    def __str__(self):
        return 'input layer "{}" needs a size or a shape'.format(
            self.layer_name)
