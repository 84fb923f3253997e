"""The meter catalogue: GPU and HPC virtual machines by Partner Center's meter fields."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, select

from riskdesk.book.meters import MeterClass, classify_meter, classify_meters, meter_class_sql
from riskdesk.db.engine import make_engine
from riskdesk.demo import catalog

VM = "Virtual Machines"
GPU, HPC, OTHER = MeterClass.GPU, MeterClass.HPC, MeterClass.OTHER

# (MeterCategory, MeterSubCategory, MeterName) as the daily rated usage export writes them.
CASES = [
    ((VM, "NCv3 Series", "NC6 v3"), GPU),
    ((VM, "NCSv3 Series", "NC6s v3"), GPU),
    ((VM, "NDasrA100 v4 Series", "ND96asr v4"), GPU),
    ((VM, "NCads A100 v4 Series", "NC24ads A100 v4"), GPU),
    ((VM, "NCasT4 v3 Series Windows", "NC4as T4 v3"), GPU),
    ((VM, "NVadsA10 v5 Series", "NV36ads A10 v5 Low Priority"), GPU),
    ((VM, "NVv4 Series", "NV8as v4"), GPU),
    ((VM, "NGads V620 Series", "NG32ads V620 v1"), GPU),
    ((VM, "NCCadsH100v5 Series", "NCC40ads H100 v5"), GPU),
    ((VM, "HBv2 Series", "HB120rs v2"), HPC),
    ((VM, "HBv3 Series", "HB120-64rs v3"), HPC),
    ((VM, "HC Series", "HC44rs"), HPC),
    ((VM, "HX Series", "HX176rs"), HPC),
    ((VM, "H Series", "H16r"), HPC),
    ((VM, "DSv3 Series", "D2s v3"), OTHER),
    ((VM, "Dv5 Series", "D8 v5"), OTHER),
    ((VM, "BS Series", "B2ms"), OTHER),
    ((VM, "FX Series", "FX4mds"), OTHER),
    ((VM, "NP Series", "NP10s"), OTHER),  # FPGA, not GPU
    ((VM, "M Series", "M128s"), OTHER),
    # the name decides when the sub-category is missing, and the other way round
    ((VM, None, "NC24ads A100 v4"), GPU),
    ((VM, "HBv2 Series", "Low Priority"), HPC),
    ((VM, None, "Standard_NC6s_v3"), GPU),  # ARM-style size name
    # not a virtual machine: never GPU or HPC, whatever the name
    (("Storage", "Tiered Block Blob", "Hot LRS Data Stored"), OTHER),
    (("Virtual Machines Licenses", "Windows Server", "NC6 v3"), OTHER),
    (("Bandwidth", "Inter-Region", "Standard Data Transfer Out"), OTHER),
    ((None, None, None), OTHER),
    ((VM, "Hybrid Benefit", "Hours"), OTHER),  # an H- that is not a series
]


@pytest.mark.parametrize(("meter", "expected"), CASES, ids=[c[0][2] or "none" for c in CASES])
def test_real_partner_center_meters_are_classified(meter, expected):
    assert classify_meter(*meter) is expected


def test_the_column_form_agrees_with_one_by_one():
    meters = [m for m, _ in CASES] * 3
    got = classify_meters([m[0] for m in meters], [m[1] for m in meters], [m[2] for m in meters])
    assert got == [expected for _, expected in CASES] * 3
    names = [m[2] for m, _ in CASES]
    without_sub = classify_meters([m[0] for m, _ in CASES], None, names)
    assert without_sub == [classify_meter(m[0], None, m[2]) for m, _ in CASES]


def test_the_sql_form_agrees_on_sqlite_and_postgresql(database_url):
    # Meter names never carry the ARM "Standard_" prefix; only the Python form strips it.
    rows = [m for m, _ in CASES if not (m[2] or "").startswith("Standard_")]
    meters = Table(
        "meter_probe",
        MetaData(),
        Column("category", String(100)),
        Column("subcategory", String(100)),
        Column("name", String(200)),
    )
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            meters.create(connection)
            connection.execute(
                meters.insert(), [dict(zip(("category", "subcategory", "name"), m)) for m in rows]
            )
            query = select(
                meters.c.category,
                meters.c.subcategory,
                meters.c.name,
                meter_class_sql(meters.c.category, meters.c.subcategory, meters.c.name),
                meter_class_sql(meters.c.category, None, meters.c.name),
            )
            got = connection.execute(query).all()
    finally:
        engine.dispose()
    assert len(got) == len(rows)
    for category, subcategory, name, both, name_only in got:
        assert both == classify_meter(category, subcategory, name).value, name
        assert name_only == classify_meter(category, None, name).value, name


def test_the_demo_draws_its_gpu_meters_from_the_catalogue():
    assert catalog.GPU_METERS, "the demo plants GPU misuse"
    assert all(m.meter_class is GPU for m in catalog.GPU_METERS)
    assert all(m.meter_class is not GPU for m in catalog.METERS)
    assert set(catalog.ALL_METERS) == set(catalog.METERS) | set(catalog.GPU_METERS)
