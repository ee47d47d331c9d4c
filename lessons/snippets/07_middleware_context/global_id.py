class ModuleGlobal:
    """A stand-in for the ContextVar that behaves like a module-level variable."""

    def __init__(self, default: str) -> None:
        self.value = default

    def get(self) -> str:
        return self.value

    def set(self, value: str) -> str:
        previous, self.value = self.value, value
        return previous

    def reset(self, previous: str) -> None:
        self.value = previous
