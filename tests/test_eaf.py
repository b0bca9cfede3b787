"""ELAN files: voli's written the way ELAN's format says and read back by pympi; users' read as
their TextGrids would be, with the same clear errors."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse
from xml.etree import ElementTree

import pytest

from voli.errors import CorpusError
from voli.io.eaf import read_eaf, write_eaf
from voli.io.textgrid import Interval, read_textgrid, speaker_tiers, write_textgrid
from voli.workdir import Workdir

ROWS = [
    ("INT01", "utterances", 0.10, 1.20, "¿Cuántas horas trabaja?"),
    ("INT01", "words", 0.10, 0.60, "cuántas"),
    ("INT01", "words", 0.60, 1.20, "horas"),
    ("INT01", "phones", 0.10, 0.25, "k"),
    ("INT01", "phones", 0.25, 0.40, "w"),
    ("S05", "utterances", 1.00, 2.50, "eh seis horas <ruido> & más"),  # overlaps the interviewer: other tiers
    ("S05", "words", 1.00, 1.40, "eh"),
    ("S05", "words", 1.60, 2.50, "seis"),
]
# the top-level elements of an EAF 3.0 document, in the order its schema's sequence requires
EAF_ORDER = ["LICENSE", "HEADER", "TIME_ORDER", "TIER", "LINGUISTIC_TYPE", "LOCALE", "LANGUAGE", "CONSTRAINT",
             "CONTROLLED_VOCABULARY", "LEXICON_REF", "REF_LINK_SET", "EXTERNAL_REF"]


def elan_file(tiers_xml: str, slots: dict[str, int | None], *, extra: str = "") -> str:
    """An .eaf laid out as ELAN 6 saves one (time slots shared between annotations, unaligned
    slots without a value, tier attributes and linguistic types as ELAN writes them)."""
    order = "\n".join(f'<TIME_SLOT TIME_SLOT_ID="{k}"' + (f' TIME_VALUE="{v}"' if v is not None else "") + "/>"
                      for k, v in slots.items())
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT AUTHOR="" DATE="2024-05-02T10:11:12+01:00" FORMAT="3.0" VERSION="3.0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.mpi.nl/tools/elan/EAFv3.0.xsd">
    <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds">
        <MEDIA_DESCRIPTOR MEDIA_URL="file:///home/ana/entrevistas/r1.wav" MIME_TYPE="audio/x-wav" RELATIVE_MEDIA_URL="./r1.wav"/>
        <PROPERTY NAME="URN">urn:nl-mpi-tools-elan-eaf:0c6f3a52-8e8e-4d5b-9a5e-1f3c2b7d9e10</PROPERTY>
        <PROPERTY NAME="lastUsedAnnotationId">20</PROPERTY>
    </HEADER>
    <TIME_ORDER>
{order}
    </TIME_ORDER>
{tiers_xml}
    <LINGUISTIC_TYPE GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="default-lt" TIME_ALIGNABLE="true"/>
    <LINGUISTIC_TYPE CONSTRAINTS="Time_Subdivision" GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="words" TIME_ALIGNABLE="true"/>
    <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Association" GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="translation" TIME_ALIGNABLE="false"/>
    <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Subdivision" GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="tokens" TIME_ALIGNABLE="false"/>
    <LANGUAGE LANG_DEF="http://cdb.iso.org/lg/CDB-00138580-001" LANG_ID="spa" LANG_LABEL="Spanish (spa)"/>
    <CONSTRAINT DESCRIPTION="Time subdivision of parent annotation's time interval, no time gaps allowed within this interval" STEREOTYPE="Time_Subdivision"/>
    <CONSTRAINT DESCRIPTION="Symbolic subdivision of a parent annotation. Annotations refering to the same parent are ordered" STEREOTYPE="Symbolic_Subdivision"/>
    <CONSTRAINT DESCRIPTION="1-1 association with a parent annotation" STEREOTYPE="Symbolic_Association"/>
    <CONSTRAINT DESCRIPTION="Time alignable annotations within the parent annotation's time interval, gaps are allowed" STEREOTYPE="Included_In"/>
{extra}</ANNOTATION_DOCUMENT>
"""


def aligned(aid: str, ts1: str, ts2: str, value: str) -> str:
    return (f'<ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="{aid}" TIME_SLOT_REF1="{ts1}" TIME_SLOT_REF2="{ts2}">'
            f"<ANNOTATION_VALUE>{value}</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>")


def referring(aid: str, ref: str, value: str, previous: str | None = None) -> str:
    prev = f' PREVIOUS_ANNOTATION="{previous}"' if previous else ""
    return (f'<ANNOTATION><REF_ANNOTATION ANNOTATION_ID="{aid}" ANNOTATION_REF="{ref}"{prev}>'
            f"<ANNOTATION_VALUE>{value}</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>")


def test_voli_eaf_reads_back_in_pympi_with_the_same_tiers_times_and_labels(tmp_path):
    from pympi import Elan

    (tmp_path / "corpus/audio").mkdir(parents=True)
    audio = tmp_path / "corpus/audio/r 1.wav"
    audio.write_bytes(b"")
    tiers = speaker_tiers(ROWS)
    path = write_eaf(Workdir(tmp_path / "exp").eaf("r1"), tiers, media_path=audio, duration_s=3.0)
    eaf = Elan.Eaf(str(path))
    assert list(eaf.get_tier_names()) == list(tiers)  # in the file's order
    for name, intervals in tiers.items():
        got = sorted(eaf.get_annotation_data_for_tier(name))
        assert got == [(round(iv.start * 1000), round(iv.end * 1000), iv.label) for iv in intervals], name
        assert eaf.get_parameters_for_tier(name)["PARTICIPANT"] == name.split(" - ")[0]
        assert eaf.get_parameters_for_linguistic_type(eaf.get_parameters_for_tier(name)["LINGUISTIC_TYPE_REF"])[
            "TIME_ALIGNABLE"] == "true"
    [media] = eaf.get_linked_files()
    assert Path(unquote(urlparse(media["MEDIA_URL"]).path)) == audio.resolve()
    assert (path.parent / media["RELATIVE_MEDIA_URL"]).resolve() == audio.resolve()
    assert media["MIME_TYPE"] == "audio/x-wav"
    assert read_eaf(path) == {name: [Interval(iv.start, iv.end, iv.label) for iv in ivs] for name, ivs in tiers.items()}


def test_voli_eaf_follows_the_eaf_layout(tmp_path):
    """What the EAF 3.0 schema asks of a document, checked on the XML itself: the elements in the
    schema's order, required attributes, time slots in milliseconds that every annotation finds,
    unique annotation IDs, linguistic types that exist."""
    path = write_eaf(tmp_path / "r1.eaf", speaker_tiers(ROWS), duration_s=3.0)
    assert path.read_bytes().startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = ElementTree.parse(path).getroot()
    assert root.tag == "ANNOTATION_DOCUMENT" and {"AUTHOR", "DATE", "VERSION"} <= set(root.attrib)
    assert root.get("FORMAT") == "3.0"
    tags = [child.tag for child in root]
    assert tags == sorted(tags, key=EAF_ORDER.index) and tags.count("HEADER") == tags.count("TIME_ORDER") == 1
    assert root.find("HEADER").get("TIME_UNITS") == "milliseconds"
    slots = {ts.get("TIME_SLOT_ID"): int(ts.get("TIME_VALUE")) for ts in root.iter("TIME_SLOT")}
    types = {lt.get("LINGUISTIC_TYPE_ID") for lt in root.iter("LINGUISTIC_TYPE")}
    ids = []
    for tier in root.iter("TIER"):
        assert tier.get("LINGUISTIC_TYPE_REF") in types and not tier.get("PARENT_REF")
        for ann in tier.iter("ALIGNABLE_ANNOTATION"):
            ids.append(ann.get("ANNOTATION_ID"))
            assert slots[ann.get("TIME_SLOT_REF1")] < slots[ann.get("TIME_SLOT_REF2")]
            assert ann.find("ANNOTATION_VALUE") is not None
    assert len(ids) == len(set(ids)) == len(ROWS)
    last = next(p for p in root.iter("PROPERTY") if p.get("NAME") == "lastUsedAnnotationId")
    assert int(last.text) >= max(int(i.lstrip("a")) for i in ids)


def test_times_are_rounded_to_the_millisecond_and_checked(tmp_path):
    path = write_eaf(tmp_path / "r.eaf", {"S1 - words": [Interval(0.10004, 0.2996, "oui"), Interval(0.2996, 0.5, "non")]})
    assert read_eaf(path)["S1 - words"] == [Interval(0.1, 0.3, "oui"), Interval(0.3, 0.5, "non")]
    with pytest.raises(CorpusError, match=r"tier 'S1 - words': intervals 'oui' \(0.000-1.000 s\) and 'non' "
                                          r"\(0.800-1.500 s\) overlap; ELAN allows no overlapping annotations"):
        write_eaf(tmp_path / "x.eaf", {"S1 - words": [Interval(0.0, 1.0, "oui"), Interval(0.8, 1.5, "non")]})
    with pytest.raises(CorpusError, match="ends at 2.500 s, after the audio's 2.000 s"):
        write_eaf(tmp_path / "x.eaf", {"a": [Interval(1.0, 2.5, "x")]}, duration_s=2.0)
    assert not (tmp_path / "x.eaf").exists() and not list(tmp_path.glob(".x.eaf*"))


def test_an_elan_file_reads_with_subdivisions_and_referring_tiers(tmp_path):
    """Tiers as ELAN keeps them: a speaker tier, a time subdivision whose inner boundaries were
    never aligned (one interval, words joined), a symbolic subdivision (its tokens in their
    PREVIOUS_ANNOTATION order, on their parent's times) and a translation (symbolic association)."""
    tiers = (
        '<TIER LINGUISTIC_TYPE_REF="default-lt" PARTICIPANT="S01" TIER_ID="S01">'
        + aligned("a1", "ts1", "ts4", "bueno pues") + aligned("a2", "ts5", "ts6", "trabajo de noche") + "</TIER>"
        '<TIER LINGUISTIC_TYPE_REF="words" PARENT_REF="S01" PARTICIPANT="S01" TIER_ID="S01 - words">'
        + aligned("a3", "ts1", "ts2", "bueno") + aligned("a4", "ts2", "ts3", "pues") + aligned("a5", "ts3", "ts4", "eh")
        + "</TIER>"
        '<TIER LINGUISTIC_TYPE_REF="tokens" PARENT_REF="S01" PARTICIPANT="S01" TIER_ID="S01 - tokens">'
        + referring("a8", "a2", "noche", "a7") + referring("a6", "a2", "trabajo") + referring("a7", "a2", "de", "a6")
        + "</TIER>"
        '<TIER LINGUISTIC_TYPE_REF="translation" PARENT_REF="S01 - tokens" TIER_ID="S01 - translation">'
        + referring("a9", "a6", "I work") + referring("a10", "a8", "at night") + "</TIER>"
        '<TIER LINGUISTIC_TYPE_REF="default-lt" PARTICIPANT="INT01" TIER_ID="INT01"/>'
    )
    path = tmp_path / "r1.eaf"
    path.write_text(elan_file(tiers, {"ts1": 500, "ts2": None, "ts3": None, "ts4": 1250, "ts5": 1500, "ts6": 2875}),
                    encoding="utf-8")
    got = read_eaf(path)
    assert list(got) == ["S01", "S01 - words", "S01 - tokens", "S01 - translation", "INT01"]
    assert got["S01"] == [Interval(0.5, 1.25, "bueno pues"), Interval(1.5, 2.875, "trabajo de noche")]
    assert got["S01 - words"] == [Interval(0.5, 1.25, "bueno pues eh")]
    assert got["S01 - tokens"] == [Interval(1.5, 2.875, "trabajo de noche")]
    assert got["S01 - translation"] == [Interval(1.5, 2.875, "I work at night")]
    assert got["INT01"] == []


def spans_of(path: Path, speaker_ids: list[str]):
    from voli import problems
    from voli.asr.user_transcripts import read_user_transcript
    from voli.schema import RecordingSpeaker

    speakers = [RecordingSpeaker("r1", sid, "interviewee", None) for sid in speaker_ids]
    with problems.collecting("transcribe", "r1") as found:
        spans = read_user_transcript(path, speakers)
    return spans, found


def test_a_user_eaf_gives_the_words_and_speakers_its_textgrid_would(tmp_path):
    """The same turns as a TextGrid and as an ELAN file: the same spans (speaker, times, words), and
    the same problem for a tier named for nobody in the recording."""
    tiers = {
        "INT01": [Interval(0.25, 1.5, "¿y usted trabaja?"), Interval(3.0, 3.75, "ya")],
        "S05 - utterances": [Interval(1.375, 2.875, "sí, eh, de noche"), Interval(3.5, 5.0, "en el puerto")],
        "S05 - words": [Interval(1.375, 1.5, "sí")],  # the utterance tier carries the same words: not read
        "comentarios": [Interval(0.0, 5.0, "ruido de fondo")],
    }
    from_textgrid, tg_problems = spans_of(write_textgrid(tmp_path / "r1.TextGrid", tiers, duration_s=5.0), ["INT01", "S05"])
    from_eaf, eaf_problems = spans_of(write_eaf(tmp_path / "r1.eaf", tiers, duration_s=5.0), ["INT01", "S05"])
    assert from_eaf == from_textgrid
    assert [(s.speaker_id, s.start, s.end, s.words) for s in from_eaf] == [
        ("INT01", 0.25, 1.5, ["¿y", "usted", "trabaja?"]),
        ("S05", 1.375, 2.875, ["sí,", "eh,", "de", "noche"]),
        ("INT01", 3.0, 3.75, ["ya"]),
        ("S05", 3.5, 5.0, ["en", "el", "puerto"]),
    ]
    assert [p.kind for p in eaf_problems] == [p.kind for p in tg_problems] == ["transcript_tier_ignored"]
    assert "r1.eaf: tier 'comentarios' is not read" in eaf_problems[0].message
    assert "rename the tier" in eaf_problems[0].message


def test_overlapping_annotations_name_the_file_tier_times_and_fix(tmp_path):
    tiers = ('<TIER LINGUISTIC_TYPE_REF="default-lt" TIER_ID="S01">'
             + aligned("a1", "ts1", "ts2", "bueno") + aligned("a2", "ts3", "ts4", "pues") + "</TIER>")
    path = tmp_path / "r1.eaf"
    path.write_text(elan_file(tiers, {"ts1": 0, "ts2": 1000, "ts3": 800, "ts4": 1500}), encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        read_eaf(path)
    assert str(err.value) == (f"{path}: tier 'S01': intervals 'bueno' (0.000-1.000 s) and 'pues' (0.800-1.500 s) "
                              "overlap; ELAN allows no overlapping annotations on a tier: fix their times in ELAN "
                              "or move one to another tier")


@pytest.mark.parametrize("text, message", [
    ("<ANNOTATION_DOCUMENT><HEADER>", r"r1.eaf: not a readable ELAN file \(broken XML at line 1, column \d+\); "
                                      "open it in ELAN and save it again"),
    ('<?xml version="1.0"?><TextGrid/>', r"r1.eaf: not an ELAN file \(its XML holds <TextGrid>"),
    (elan_file("", {}).replace('TIME_UNITS="milliseconds"', 'TIME_UNITS="PAL-frames"'), "times are in PAL-frames"),
    (elan_file("", {"ts1": "soon"}), r"r1.eaf: not a readable ELAN file \(ValueError: .*soon"),
    (elan_file('<TIER LINGUISTIC_TYPE_REF="default-lt" TIER_ID="S01">' + aligned("a1", "ts1", "ts2", "pues")
               + "</TIER>", {"ts1": 400, "ts2": None}),
     r"r1.eaf: tier 'S01': annotation 'pues' at 0.400 s has no end time; align its end in ELAN"),
])
def test_a_broken_eaf_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "r1.eaf"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        read_eaf(path)


def test_alignment_eaf_has_the_textgrids_tiers(tmp_path):
    """The align stage's two files, written from the same records, hold the same tiers."""
    from voli.align.aligner import write_alignment_eaf, write_alignment_textgrid
    from voli.schema import AlignedUtterance, Phone, Word

    words = [Word("r1", "r1-000000", "S05", "interviewee", 1.0, 1.4, "eh", None, True, "es"),
             Word("r1", "r1-000000", "S05", "interviewee", 1.6, 2.5, "seis", None, False, "es")]
    phones = [Phone("r1", "r1-000000", "S05", 1, 1.6, 1.75, "s", None), Phone("r1", "r1-000000", "S05", 1, 1.75, 2.0, "ej", 1),
              Phone("r1", "r1-000000", "S05", 1, 2.0, 2.5, "s", None)]
    utts = [AlignedUtterance("r1-000000", "r1", "S05", 1.0, 2.5, 2, 3, -50.0, "aligned")]
    audio = tmp_path / "r1.flac"
    audio.write_bytes(b"")
    grid = read_textgrid(write_alignment_textgrid(tmp_path / "textgrids/r1.TextGrid", words, phones, utts, 3.0))
    eaf = read_eaf(write_alignment_eaf(tmp_path / "eaf/r1.eaf", words, phones, utts, 3.0, str(audio)))
    assert list(eaf) == list(grid.tierNames) == ["S05 - utterances", "S05 - words", "S05 - phones"]
    for name in eaf:
        assert eaf[name] == [Interval(e.start, e.end, e.label) for e in grid.getTier(name).entries]
    assert eaf["S05 - utterances"][0].label == "eh seis"
    assert ElementTree.parse(tmp_path / "eaf/r1.eaf").find("HEADER/MEDIA_DESCRIPTOR").get("MIME_TYPE") == "audio/*"
