from carepath.accounts.models import User
from carepath.files.models import StoredFile


def access_file(user: User, file_id: int) -> StoredFile:
    raise NotImplementedError


def read_plaintext(stored: StoredFile, *, thumbnail: bool = False) -> bytes:
    raise NotImplementedError
