"""Typed request and response bodies of the studio's JSON API (shown at /docs)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from deepexpr.expressions import EXPRESSIONS


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: one line saying what is wrong and what to do."""

    error: str
    status: int


class Health(BaseModel):
    status: str = "ok"
    version: str
    models: dict[str, str] = Field(description="what was loaded at start")
    expressions: list[str] = Field(default_factory=lambda: list(EXPRESSIONS))
    workers: int = Field(description="CPU worker threads (bounded to the cores)")
    queued: int = Field(description="requests waiting or running now")
    puppet_source: str


class Quality(BaseModel):
    """The face pipeline's quality fields of a face (`deepexpr.faces.Face.quality()`)."""

    score: float = Field(description="detector score 0..1")
    iod: float = Field(description="inter-ocular distance in image pixels")
    yaw: float = Field(description="degrees, + = face turned toward the image's right")
    pitch: float = Field(description="degrees, + = chin down")
    roll: float = Field(description="degrees, + = head tilted clockwise")
    low_confidence: bool = Field(description="profile, tiny, occluded, cut off or low detector score")
    reason: str = Field(description="why low_confidence ('' when confident)")


class Face(BaseModel):
    box: list[float] = Field(description="[x0, y0, x1, y1] in image pixels")
    label: str
    probs: dict[str, float]
    quality: Quality


class RecognizeResponse(BaseModel):
    width: int
    height: int
    faces: list[Face]
    ms: float = Field(description="server time for this request")


class Match(BaseModel):
    rank: int
    character: str
    label: str
    js: float
    geometry: float | None
    thumbnail: str = Field(description="URL of the index image, served by row id")


class FaceMatches(BaseModel):
    face: Face
    matched_label: str
    by_character: dict[str, list[Match]]


class RetrieveResponse(BaseModel):
    faces: list[FaceMatches]
    index: str
    ms: float


class Drawing(BaseModel):
    box: list[float] | None
    image: str = Field(description="data: URL (PNG) of the HA-GAN drawing")
    label: str = Field(description="expression D^e reads on the drawing")
    probs: dict[str, float]


class TranslateResponse(BaseModel):
    character: str
    faces: list[Drawing]
    note: str
    ms: float


class PuppetFace(BaseModel):
    box: list[float]
    label: str
    probs: dict[str, float]
    quality: Quality
    rig: dict[str, float] = Field(description="rig values the character was drawn with (FACS AUs 0..1, "
                                  "head yaw/pitch/roll in degrees, gaze -1..1)")
    puppet_source: str = Field(description="'rig': the rig estimator on the face's mesh; "
                               "'expression-blend': key poses weighted by the probabilities (no mesh)")
    flags: list[str] = Field(description="the rig estimate's flags (low quality, no irises, ...)")
    image: str = Field(description="data: URL (PNG) of the character")


class PuppetResponse(BaseModel):
    character: str
    puppet_source: str = Field(description="'rig': the rig estimator (faces without a mesh: 'expression-blend')")
    faces: list[PuppetFace]
    ms: float


class AnimateRequest(BaseModel):
    expression: str = Field("surprise", description="one of the six non-neutral expressions")
    frames: int = Field(60, ge=2, le=135, description="frames to generate (the model's length is 135)")


class AnimateResponse(BaseModel):
    id: str
    expression: str
    frames: int
    files: dict[str, str] = Field(description="name -> download URL (preview.mp4, strip.png, animation.glb, frames_obj.zip)")
    ms: float


class CharacterList(BaseModel):
    characters: list[str]
    hagan_characters: list[str]
    expressions: list[str]


class RandomCharacter(BaseModel):
    name: str
    style: dict
    image: str = Field(description="URL of its render")
