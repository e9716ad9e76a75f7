"""The face and body map: where each area of the knowledge is drawn, on four views (the face
from the front and in profile, the body from the front and the back), for the pages that
place concerns, needled areas and injection points.

The areas come from the knowledge, never from a list here: a drawing is only the shape of an
area the knowledge names. An area of the knowledge that has no shape here (a clinic's own
area, say) is not lost: the map lists it under the drawings, to be chosen by name. Every
view has the same viewBox, so a point is stored as (view, x, y) with x and y from 0 to 1
across the drawing and drawn again wherever the view is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dermaplan.knowledge.schema import Area

WIDTH, HEIGHT = 200, 260  # every view's viewBox: 0 0 WIDTH HEIGHT


@dataclass(frozen=True, slots=True)
class Shape:
    view: str
    path: str  # SVG path data in the view's viewBox; a paired area is drawn on both sides


@dataclass(frozen=True, slots=True)
class Region:
    """An area of the knowledge as drawn: its id, its name (the accessible name) and shape."""

    area: str
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class View:
    id: str
    label: str
    outline: str  # the silhouette behind the regions (decoration, not a choice)
    regions: tuple[Region, ...]


@dataclass(frozen=True, slots=True)
class ListedArea:
    area: str
    name: str


@dataclass(frozen=True, slots=True)
class FaceMap:
    views: tuple[View, ...]
    listed: tuple[ListedArea, ...]  # areas of the knowledge with no drawing: chosen by name
    width: int = WIDTH
    height: int = HEIGHT

    def names(self) -> dict[str, str]:
        """Every area on the map, drawn or listed, by id: its name."""
        drawn = {r.area: r.name for view in self.views for r in view.regions}
        return drawn | {item.area: item.name for item in self.listed}


VIEWS: tuple[tuple[str, str, str], ...] = (
    (
        "face_front",
        "Face, front",
        "M100 22 C150 22 172 70 170 125 C168 190 135 235 100 235 "
        "C65 235 32 190 30 125 C28 70 50 22 100 22 Z",
    ),
    (
        "face_profile",
        "Face, profile",
        "M70 40 C110 5 175 30 165 95 L178 130 L165 140 L168 "
        "175 L150 190 L140 205 L145 255 L75 255 L80 205 C45 180 40 90 70 40 Z",
    ),
    (
        "body_front",
        "Body, front",
        "M88 10 C88 -2 112 -2 112 10 L112 32 L155 40 L170 160 "
        "L140 162 L132 140 L130 250 L70 250 L68 140 L60 162 L30 160 L45 40 L88 32 Z",
    ),
    (
        "body_back",
        "Body, back",
        "M88 10 C88 -2 112 -2 112 10 L112 32 L155 40 L170 160 "
        "L140 162 L132 140 L130 250 L70 250 L68 140 L60 162 L30 160 L45 40 L88 32 Z",
    ),
)

SHAPES: dict[str, Shape] = {
    "forehead": Shape("face_front", "M48 48 Q100 18 152 48 L155 76 L45 76 Z"),
    "glabella": Shape("face_front", "M89 78 L111 78 L111 96 L89 96 Z"),
    "periorbital": Shape(
        "face_front", "M52 84 L86 84 L86 106 L52 106 Z M114 84 L148 84 L148 106 L114 106 Z"
    ),
    "nose": Shape("face_front", "M91 99 L109 99 L116 142 L84 142 Z"),
    "cheeks": Shape(
        "face_front", "M38 110 L80 112 L80 158 L44 150 Z M162 110 L120 112 L120 158 L156 150 Z"
    ),
    "perioral": Shape("face_front", "M80 148 L120 148 L125 180 L75 180 Z"),
    "chin": Shape("face_front", "M80 184 L120 184 L115 212 L85 212 Z"),
    "jawline": Shape(
        "face_front", "M46 156 L74 184 L80 214 L56 194 Z M154 156 L126 184 L120 214 L144 194 Z"
    ),
    "scalp": Shape("face_profile", "M66 48 C105 8 170 30 162 80 L145 78 C140 45 100 35 78 62 Z"),
    "submental": Shape("face_profile", "M104 186 L148 182 L140 204 L104 204 Z"),
    "neck": Shape("face_profile", "M82 208 L140 208 L144 254 L76 254 Z"),
    "decolletage": Shape("body_front", "M78 36 L122 36 L126 58 L74 58 Z"),
    "chest": Shape("body_front", "M68 60 L132 60 L132 92 L68 92 Z"),
    "abdomen": Shape("body_front", "M76 95 L124 95 L124 138 L76 138 Z"),
    "flanks": Shape(
        "body_front", "M63 95 L73 95 L73 138 L63 138 Z M127 95 L137 95 L137 138 L127 138 Z"
    ),
    "arms": Shape(
        "body_front", "M47 44 L64 44 L58 128 L39 128 Z M136 44 L153 44 L161 128 L142 128 Z"
    ),
    "hands": Shape(
        "body_front", "M34 132 L58 132 L58 160 L34 160 Z M142 132 L166 132 L166 160 L142 160 Z"
    ),
    "thighs": Shape(
        "body_front", "M72 144 L98 144 L96 210 L74 210 Z M102 144 L128 144 L126 210 L104 210 Z"
    ),
    "shoulders": Shape(
        "body_back", "M52 38 L95 36 L95 56 L50 58 Z M105 36 L148 38 L150 58 L105 56 Z"
    ),
    "back": Shape("body_back", "M64 60 L136 60 L132 122 L68 122 Z"),
    "buttocks": Shape("body_back", "M70 126 L130 126 L130 160 L70 160 Z"),
}


def face_map(areas: Mapping[str, Area]) -> FaceMap:
    """The map of the knowledge's areas, in the knowledge's order within each view."""
    views = tuple(
        View(
            id=view,
            label=label,
            outline=outline,
            regions=tuple(
                Region(area.id, area.name, SHAPES[area.id].path)
                for area in areas.values()
                if area.id in SHAPES and SHAPES[area.id].view == view
            ),
        )
        for view, label, outline in VIEWS
    )
    listed = tuple(ListedArea(a.id, a.name) for a in areas.values() if a.id not in SHAPES)
    return FaceMap(views=views, listed=listed)
