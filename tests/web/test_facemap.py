"""The face and body map covers the knowledge's areas: each drawn once, named, in a view."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from dermaplan.knowledge import KnowledgeBase, load_knowledge
from dermaplan.web.facemap import SHAPES, VIEWS, face_map
from dermaplan.web.views import environment


@pytest.fixture(scope="module")
def knowledge() -> KnowledgeBase:
    return load_knowledge()


def test_every_area_of_the_knowledge_is_drawn_exactly_once(knowledge: KnowledgeBase) -> None:
    drawn = Counter(r.area for view in face_map(knowledge.areas).views for r in view.regions)
    assert drawn == Counter(set(knowledge.areas))
    assert face_map(knowledge.areas).listed == ()


def test_every_shape_belongs_to_a_view_and_names_an_area_of_the_knowledge(
    knowledge: KnowledgeBase,
) -> None:
    views = {view for view, _, _ in VIEWS}
    assert {shape.view for shape in SHAPES.values()} <= views
    assert set(SHAPES) <= set(knowledge.areas)


def test_an_area_without_a_drawing_is_listed_by_name(knowledge: KnowledgeBase) -> None:
    extra = knowledge.areas["forehead"].model_copy(update={"id": "ear_lobes", "name": "Ear lobes"})
    drawn = face_map({**knowledge.areas, "ear_lobes": extra})
    assert [(item.area, item.name) for item in drawn.listed] == [("ear_lobes", "Ear lobes")]
    assert drawn.names()["ear_lobes"] == "Ear lobes"


def test_the_map_renders_named_regions_and_a_checkbox_per_area(knowledge: KnowledgeBase) -> None:
    template = environment.from_string(
        '{% from "face_map.html" import face_map %}'
        "{{ face_map(map, field='areas', selected=['cheeks'], "
        "points=[{'view': 'face_front', 'x': 0.5, 'y': 0.25}]) }}"
    )
    html = template.render(map=face_map(knowledge.areas))
    for area in knowledge.areas.values():
        assert f'data-area="{area.id}" aria-label="{area.name}"' in html
        assert f'name="areas" value="{area.id}"' in html
    assert re.search(r'class="facemap-area is-selected"[^>]*data-area="cheeks"', html)
    assert 'name="areas" value="cheeks" checked' in html
    assert '<circle class="facemap-point" cx="100.0" cy="65.0"' in html
    assert "style=" not in html
    assert "onclick" not in html.lower()
