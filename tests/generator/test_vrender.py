"""The vector engine's block renderer on one committee of the tiny world: forced kinds are planted,
every tag matches what its cells show, and the same generator seed gives the same block.

The end-to-end checks (files read back, ground truth joined) run on both engines in test_generator.py;
these pin the block renderer itself, including kinds too rare to be sure of on the tiny preset.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import replace

import numpy as np
import pytest

from synth.generator import GeneratorConfig
from synth.generator.catalog import FORMS
from synth.generator.generate import DIVISIONS_CSV, _Run
from synth.generator.population import committee_residents
from synth.generator.render import ROW_KINDS, Layout, PeriodCtx, choose_style
from synth.generator.vrender import render_block

NO_NOISE = GeneratorConfig().noise.model_copy(
    update={
        k: 0.0
        for k in (
            "id_blank",
            "id_legacy15",
            "id_lowercase_x",
            "id_wrong_check",
            "id_digit_typo",
            "id_fullwidth",
            "name_homophone",
            "name_space",
            "phone_format",
            "phone_fullwidth",
            "phone_blank",
            "date_mixed",
            "unusable_no_name_no_id",
            "unusable_bad_integer",
        )
    }
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    run = _Run(tmp_path_factory.mktemp("vr"), GeneratorConfig.preset("tiny", engine="vector"), DIVISIONS_CSV)
    ctx = run.ctxs[0]
    residents, _ = committee_residents(run.world, ctx)
    return run, ctx, residents


def _form_with_everything():
    """A form with a name, an ID, a phone, a date and a required integer: every row kind can land on it."""
    for form in FORMS:
        lay = Layout.of(form)
        if (
            lay.name_i is not None
            and lay.id_i is not None
            and lay.phone_is
            and lay.date_is
            and lay.req_int_is
        ):
            return form, lay
    raise AssertionError("no catalog form carries every kind of field")


def _block(world, noise, force, seed=7, date_style="iso"):
    run, ctx, residents = world
    form, lay = _form_with_everything()
    period = run.form_periods[form.code][-1]
    sel = [r for r in residents if r.person.birth <= period.ref and r.present(period.ref)]
    style = replace(
        choose_style(random.Random(1), noise, form, False),
        fmt="csv",
        date_style=date_style,
    )
    block, planted = render_block(
        lay, sel, PeriodCtx(period, ctx), style, np.random.default_rng(seed), noise, set(force)
    )
    return lay, sel, block, planted


def test_forced_kinds_are_planted_on_rows_that_show_them(world) -> None:
    # no chance noise at all: every defect below was forced by the planter's list
    lay, sel, block, planted = _block(world, NO_NOISE, ROW_KINDS)
    has_x = any(r.person.id18.endswith("X") for r in sel)
    has_old = any(r.person.birth.year < 2000 for r in sel)
    expected = set(ROW_KINDS) - ({"id_lowercase_x"} if not has_x else set())
    expected -= set() if has_old else {"id_legacy15"}
    assert expected <= planted, expected - planted
    for row, tags, p in zip(block.rows, block.tags, block.persons, strict=True):
        name, wide = row[lay.name_i], row[lay.id_i]
        idv = unicodedata.normalize("NFKC", wide).upper()  # full-width and lowercase x are checked apart
        if "unusable_no_name_no_id" in tags:
            assert name == "" and idv == ""
            continue
        if "id_blank" in tags:
            assert idv == ""
        if "id_legacy15" in tags:
            assert len(idv) == 15 and idv == p.id18[:6] + p.id18[8:17]
        if "id_wrong_check" in tags:
            assert idv[:17] == p.id18[:17] and idv[17] != p.id18[17]
        if "id_digit_typo" in tags:
            assert idv != p.id18 and len(idv) == 18
        if "id_fullwidth" in tags:
            assert re.search("[０-９]", wide)
        if "id_lowercase_x" in tags:
            assert wide[-1] in "xｘ"
        if "name_space" in tags:
            assert re.search(r"\s|\u3000", name)
        if not tags or set(tags) <= {"twin", "common_name", "mover", "phone_new", "phone_landline"}:
            assert wide == p.id18 and name == p.name  # untouched rows carry the person's own values
    bad = [row for row, tags in zip(block.rows, block.tags, strict=True) if "unusable_bad_integer" in tags]
    assert bad and all(row[lay.req_int_is[0]] == "不详" for row in bad)


def test_chance_noise_follows_the_rates_and_the_seed(world) -> None:
    # every rate at 1: each row gets a defect of each family (ID, name, phone, date) that can apply to it
    loud = NO_NOISE.model_copy(
        update={"id_blank": 1.0, "name_space": 1.0, "phone_format": 1.0, "date_mixed": 1.0}
    )
    lay, sel, block, planted = _block(world, loud, set())
    assert all("id_blank" in t and "name_space" in t and "date_mixed" in t for t in block.tags)
    phones = [row[lay.phone_is[0]] for row in block.rows]
    assert all(re.search(r"[ +()-]", ph) for ph in phones if ph)  # every phone reformatted
    assert {"id_blank", "name_space", "phone_format", "date_mixed"} <= planted
    # no noise and nothing forced: only hard-case markers and the file's date style
    _, _, quiet, none = _block(world, NO_NOISE, set(), date_style="cn")
    assert not none
    allowed = {"twin", "common_name", "mover", "phone_new", "phone_landline", "date_cn"}
    assert all(set(t) <= allowed for t in quiet.tags)
    assert any("date_cn" in t for t in quiet.tags)
    # same generator seed, same block; another seed, other rows hit
    _, _, again, _ = _block(world, GeneratorConfig().noise, set(), seed=11)
    _, _, same, _ = _block(world, GeneratorConfig().noise, set(), seed=11)
    assert again.rows == same.rows and again.tags == same.tags


def test_rendered_rows_keep_people_and_cells(world) -> None:
    _, sel, block, _ = _block(world, GeneratorConfig().noise, set())
    rendered = block.rendered()
    assert [r.person for r in rendered] == [r.person for r in sel]
    assert all(isinstance(c, str) for r in rendered for c in r.cells)  # CSV: every cell is text
