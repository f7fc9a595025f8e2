class ActionRefused(Exception):  # noqa: N818 - reads as what happened, like Http404
    """A business rule said no. Pages show the message beside the field; the API answers
    with the JSON error shape and this status."""

    def __init__(self, code: str, message: str, *, field: str = "", status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.status = status
