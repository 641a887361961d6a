"""``typing.NamedTuple``'s class syntax, without importing ``typing``.

Every report and scan starts by importing the ledger, the config and the
models, whose records are NamedTuples, and ``import typing`` alone costs
about 3.5 ms there: a tenth of a warm ``blocks --json``. The classes are
``collections.namedtuple``'s, as ``typing`` makes them; only the class
statement is read here. Modules import this at run time and
``typing.NamedTuple`` under ``TYPE_CHECKING``, so mypy checks the fields::

    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from tmuxtok._named import NamedTuple

Annotations stay unevaluated (every module has ``from __future__ import
annotations``): a field's type is its annotation's text.
"""

from __future__ import annotations

from collections import namedtuple

#: What a class body may not define: namedtuple's own machinery.
_RESERVED = frozenset(
    {"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults"}
    | {"_make", "_replace", "_asdict", "_source"}
)
#: Class-body entries that are not copied onto the tuple class.
_NOT_COPIED = frozenset({"__module__", "__qualname__", "__annotations__"})


class _Builder(type):
    """Turns ``class X(NamedTuple): a: int; b: str = ""`` into a namedtuple class."""

    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, object]) -> type:
        if ns.get("_building_base"):
            return super().__new__(mcs, name, bases, ns)
        if bases != (_Base,):
            raise TypeError(f"{name}: a NamedTuple can only inherit from NamedTuple")
        annotations = ns.get("__annotations__", {})
        assert isinstance(annotations, dict)
        fields = list(annotations)
        defaults = [f for f in fields if f in ns]
        if defaults and fields[-len(defaults) :] != defaults:
            raise TypeError(f"{name}: fields without a default cannot follow one with a default")
        values = [ns[f] for f in defaults]
        module = str(ns["__module__"])
        cls: type = namedtuple(name, fields, defaults=values, module=module)  # type: ignore[misc]
        cls.__annotations__ = dict(annotations)
        if "__qualname__" in ns:
            cls.__qualname__ = str(ns["__qualname__"])
        for key, value in ns.items():
            if key in _RESERVED:
                raise AttributeError(f"{name}: cannot overwrite NamedTuple attribute {key}")
            if key not in _NOT_COPIED and key not in annotations:
                setattr(cls, key, value)
        return cls


class _Base(metaclass=_Builder):
    _building_base = True


class _NamedTupleMarker:
    """What ``class X(NamedTuple)`` names: it stands for ``_Base`` in the bases."""

    def __mro_entries__(self, bases: tuple[object, ...]) -> tuple[type, ...]:
        return (_Base,)


NamedTuple = _NamedTupleMarker()
