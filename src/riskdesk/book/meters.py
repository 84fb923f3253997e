"""The meter catalogue: which rated-usage meters are GPU or HPC virtual machines.

The one place riskdesk knows this (the demo generator, the usage detectors and any report
read it from here). The rules are data, `METER_RULES`; they match the Partner Center daily
rated usage fields as documented on the reconciliation page: `MeterCategory` ("Virtual
Machines"), `MeterSubCategory` (the series: "NCv3 Series", "HBv2 Series", "NCasT4 v3 Series
Windows") and `MeterName` (the size: "NC6s v3", "ND96asr A100 v4", "HB120rs v2").

Azure names a size `<family><vCPUs><features> <version>` ("NC24ads A100 v4": family NC, 24
vCPUs, features a/d/s, accelerator A100, version 4). A meter is of a family when

* its name starts with the family followed by a digit (the vCPU count), or, failing that,
* its sub-category starts with the family followed by the end, a space, a digit, an upper
  case letter or one of the lower case letters series names use ("v" version, "a" AMD, "d"
  local disk, "s" premium storage): "NCv3", "NCSv3", "NCasT4", "HBv2", "H Series";

and its category is one of `VM_CATEGORIES`. Prefixes are matched case-sensitively, as Azure
writes them, so "Hot LRS" (Storage) or "D2s v3" are never an H- or N-series machine.

Three forms of one rule: `classify_meter` (one meter), `classify_meters` (columns of many,
e.g. a pyarrow or numpy batch of the usage table) and `meter_class_sql` (a SQL CASE over the
usage table's columns, the same on SQLite and PostgreSQL).
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import String, and_, case, func, literal
from sqlalchemy.sql.elements import ColumnElement


class MeterClass(StrEnum):
    GPU = "gpu"  # GPU-accelerated virtual machines (N-series): what crypto mining runs on
    HPC = "hpc"  # high-performance computing virtual machines (H-series)
    OTHER = "other"


@dataclass(frozen=True)
class MeterRule:
    """Meters of a VM family (`prefix`, e.g. "NC") are of class `meter_class`."""

    prefix: str
    meter_class: MeterClass
    series: str  # what the family is, for people


# Longest prefixes first is not needed (a family's prefix is never another class's prefix).
METER_RULES: tuple[MeterRule, ...] = (
    MeterRule("NC", MeterClass.GPU, "NC: NVIDIA compute GPUs (K80 to H100), incl. NCC"),
    MeterRule("ND", MeterClass.GPU, "ND: deep learning GPUs (P40, V100, A100, H100, MI300X)"),
    MeterRule("NV", MeterClass.GPU, "NV: visualisation GPUs (M60, Radeon MI25, A10)"),
    MeterRule("NG", MeterClass.GPU, "NG: gaming / VDI GPUs (Radeon PRO V620)"),
    MeterRule("HB", MeterClass.HPC, "HB: memory-bandwidth HPC (AMD EPYC)"),
    MeterRule("HC", MeterClass.HPC, "HC: dense-compute HPC (Intel Xeon)"),
    MeterRule("HX", MeterClass.HPC, "HX: large-memory HPC (AMD EPYC)"),
    MeterRule("H", MeterClass.HPC, "H: the first HPC series (H8, H16r ...)"),
)
VM_CATEGORIES: tuple[str, ...] = ("Virtual Machines",)
# What may follow a family prefix in a sub-category (see the module docstring).
SUBCATEGORY_FOLLOW: tuple[str, ...] = (
    "",
    " ",
    *string.digits,
    *string.ascii_uppercase,
    "v",
    "a",
    "d",
    "s",
)
# ARM-style size names ("Standard_NC6s_v3") carry this prefix; meter names do not.
_SIZE_PREFIX = "Standard_"
_FOLLOW = frozenset(SUBCATEGORY_FOLLOW)
_DIGITS = frozenset(string.digits)


def _name_class(name: str) -> MeterClass | None:
    if name.startswith(_SIZE_PREFIX):
        name = name[len(_SIZE_PREFIX) :]
    for rule in METER_RULES:
        k = len(rule.prefix)
        if name.startswith(rule.prefix) and name[k : k + 1] in _DIGITS:
            return rule.meter_class
    return None


def _subcategory_class(subcategory: str) -> MeterClass | None:
    for rule in METER_RULES:
        k = len(rule.prefix)
        if subcategory.startswith(rule.prefix) and subcategory[k : k + 1] in _FOLLOW:
            return rule.meter_class
    return None


def classify_meter(category: str | None, subcategory: str | None, name: str | None) -> MeterClass:
    """The class of one meter from its MeterCategory, MeterSubCategory and MeterName."""
    if (category or "").strip(" ") not in VM_CATEGORIES:
        return MeterClass.OTHER
    found = _name_class((name or "").strip(" "))
    if found is None:
        found = _subcategory_class((subcategory or "").strip(" "))
    return found or MeterClass.OTHER


def classify_meters(
    categories: Iterable[str | None],
    subcategories: Iterable[str | None] | None,
    names: Iterable[str | None],
) -> list[MeterClass]:
    """`classify_meter` over columns (lists, numpy or pyarrow arrays, `None` for no
    sub-category column); each distinct meter is classified once, so a million usage rows
    of a few hundred meters cost a few hundred classifications."""
    cats = list(categories)
    subs = [None] * len(cats) if subcategories is None else list(subcategories)
    seen: dict[tuple[str | None, str | None, str | None], MeterClass] = {}
    out: list[MeterClass] = []
    for key in zip(cats, subs, names, strict=True):
        found = seen.get(key)
        if found is None:
            found = seen[key] = classify_meter(*key)
        out.append(found)
    return out


def meter_class_sql(
    category: ColumnElement, subcategory: ColumnElement | None, name: ColumnElement
) -> ColumnElement[str]:
    """A SQL expression with `classify_meter`'s answer ('gpu', 'hpc', 'other') per row.

    For a whole-table pass, e.g.
    `select(meter_class_sql(u.c.meter_category, None, u.c.meter_name), func.sum(...))`.
    Built from `METER_RULES` with `substr` and `IN` only (no regular expressions, no
    collation-dependent ranges), so SQLite and PostgreSQL agree with the Python form.
    (`name` is matched without the ARM "Standard_" prefix handling, which meter names
    never carry.)
    """
    digits = list(string.digits)

    def trimmed(column: ColumnElement) -> ColumnElement:
        return func.coalesce(func.trim(column), literal("", String))

    n = trimmed(name)
    whens = []
    for rule in METER_RULES:
        k = len(rule.prefix)
        whens.append(
            (
                and_(func.substr(n, 1, k) == rule.prefix, func.substr(n, k + 1, 1).in_(digits)),
                rule.meter_class.value,
            )
        )
    if subcategory is not None:  # tried only when no name rule matched (CASE order)
        s = trimmed(subcategory)
        for rule in METER_RULES:
            k = len(rule.prefix)
            whens.append(
                (
                    and_(
                        func.substr(s, 1, k) == rule.prefix,
                        func.substr(s, k + 1, 1).in_(list(SUBCATEGORY_FOLLOW)),
                    ),
                    rule.meter_class.value,
                )
            )
    is_vm = trimmed(category).in_(list(VM_CATEGORIES))
    return case(
        (~is_vm, MeterClass.OTHER.value),
        *whens,
        else_=MeterClass.OTHER.value,
    )
