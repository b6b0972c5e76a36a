"""The project's own error types: every failure a user can cause is one of these, with a message
that says what is wrong and what to do, so no error path ends in a bare traceback."""


class ImgbenchError(Exception):
    """Base class: an expected failure whose message is meant for the user."""


class DatasetError(ImgbenchError):
    """The CIFAR-10 archive could not be fetched, verified, extracted or understood."""


class ChecksumError(DatasetError):
    """An archive's checksum differs from the expected one."""


class ArchiveError(DatasetError):
    """An archive is not a readable tar.gz or holds members we refuse to extract."""


class UnsafePickleError(DatasetError):
    """A pickle asked for something beyond what CIFAR-10 batches need."""


class ConfigError(ImgbenchError):
    """The config passed its schema but asks for something impossible."""


class StoreError(ImgbenchError):
    """A store is missing, of an unknown format, or does not hold what was written."""


class VerificationError(StoreError):
    """Images or labels read back differ from the ones written."""


class ResultArchiveError(ImgbenchError):
    """A result archive cannot be written, or is unreadable or not an imgbench archive."""


class LoaderError(ImgbenchError):
    """A training loader over a store failed: a worker died or hung, or the store went away."""


class ImageFolderError(DatasetError):
    """A folder of the user's own images holds files that cannot go into the image pool, or no
    images, or more classes than a label byte can tell apart."""
