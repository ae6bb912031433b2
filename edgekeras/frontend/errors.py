"""The one error every front end raises for a model it cannot import."""


class ModelImportError(ValueError):
    """A model or model file the compiler cannot turn into IR; the message is one line naming why."""

    def __init__(self, message):
        super().__init__(" ".join(str(message).split()))
