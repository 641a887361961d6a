"""``tmuxtok._named.NamedTuple`` makes the classes ``typing.NamedTuple`` makes."""

from __future__ import annotations

import pickle
import typing

import pytest

from tmuxtok import _named


class Typed(typing.NamedTuple):
    """A record."""

    name: str
    count: int = 0
    tags: tuple[str, ...] = ()

    #: A class attribute that is not a field (no annotation).
    KIND = "typed"

    @property
    def label(self) -> str:
        return f"{self.name}:{self.count}"

    def bumped(self) -> Typed:
        return self._replace(count=self.count + 1)


class Ours(_named.NamedTuple):
    """A record."""

    name: str
    count: int = 0
    tags: tuple[str, ...] = ()

    #: A class attribute that is not a field (no annotation).
    KIND = "typed"

    @property
    def label(self) -> str:
        return f"{self.name}:{self.count}"

    def bumped(self) -> Ours:
        return self._replace(count=self.count + 1)


def test_same_fields_defaults_and_annotations() -> None:
    assert Ours._fields == Typed._fields == ("name", "count", "tags")
    assert Ours._field_defaults == Typed._field_defaults == {"count": 0, "tags": ()}
    # typing wraps each annotation's text in a ForwardRef; the text is the same
    typed = {k: v.__forward_arg__ for k, v in Typed.__annotations__.items()}
    assert (
        Ours.__annotations__
        == typed
        == {
            "name": "str",
            "count": "int",
            "tags": "tuple[str, ...]",
        }
    )
    assert Ours.__doc__ == Typed.__doc__ == "A record."
    assert Ours.__module__ == Typed.__module__ == __name__
    assert Ours.__qualname__ == "Ours"


def test_same_behaviour() -> None:
    t, o = Typed("a", 2), Ours("a", 2)
    assert tuple(o) == tuple(t) == ("a", 2, ())
    assert o == ("a", 2, ()) and isinstance(o, tuple)
    assert repr(o) == repr(t).replace("Typed", "Ours")
    assert o._asdict() == t._asdict()
    assert o.label == t.label == "a:2"
    assert o.bumped() == Ours("a", 3) and o.KIND == "typed"
    assert Ours._make(["b", 1, ("x",)]) == Ours(name="b", count=1, tags=("x",))
    assert pickle.loads(pickle.dumps(o)) == o and type(pickle.loads(pickle.dumps(o))) is Ours
    with pytest.raises(AttributeError):
        o.name = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Ours()  # type: ignore[call-arg]


def test_refuses_what_typing_refuses() -> None:
    with pytest.raises(TypeError, match="cannot follow"):

        class Bad(_named.NamedTuple):
            a: int = 0
            b: int

    with pytest.raises(AttributeError, match="_replace"):

        class Reserved(_named.NamedTuple):
            a: int

            def _replace(self) -> None: ...


def test_the_package_records_are_built_by_it() -> None:
    """The run-time classes are namedtuples whose fields are their annotations."""
    from tmuxtok.config import Config
    from tmuxtok.model.blocks import Block
    from tmuxtok.model.events import LimitSnapshot

    for cls in (Config, Block, LimitSnapshot):
        assert issubclass(cls, tuple)
        assert cls._fields == tuple(cls.__annotations__)
