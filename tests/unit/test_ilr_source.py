"""Reading ILR files safely: no DTD, no entity expansion, no external access; streaming."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.imports.ilr import IlrSource
from ledger.imports.problems import ImportRefused

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ilr"

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE Message [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Message xmlns="ESFA/ILR/2025-26"><Learner><FamilyName>&lol9;</FamilyName></Learner></Message>
"""


def read(path: Path) -> list:
    source = IlrSource(path, {})
    source.header()
    return list(source.records())


def test_a_billion_laughs_file_is_refused_before_any_entity_is_expanded(tmp_path):
    path = tmp_path / "laughs.xml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    with pytest.raises(ImportRefused, match="declares a document type") as refused:
        read(path)
    assert refused.value.problems[0].line == 2


def test_an_external_entity_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    path = tmp_path / "xxe.xml"
    path.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE Message [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        '<Message xmlns="ESFA/ILR/2025-26"><Learner><FamilyName>&x;</FamilyName>'
        "</Learner></Message>\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        read(path)
    assert "TOP-SECRET" not in str(refused.value) + str(refused.value.problems)


def test_an_external_dtd_is_refused_without_fetching_it(tmp_path):
    path = tmp_path / "dtd.xml"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE Message SYSTEM '
                    '"http://127.0.0.1:9/ilr.dtd">\n<Message xmlns="ESFA/ILR/2025-26"/>\n',
                    encoding="utf-8")
    with pytest.raises(ImportRefused, match="declares a document type"):
        read(path)


@pytest.mark.parametrize("namespace", ["ESFA/ILR/2023-24", "SFA/ILR/2025-26", ""])
def test_a_file_of_another_schema_year_or_no_ilr_namespace_is_refused(tmp_path, namespace):
    path = tmp_path / "old.xml"
    path.write_text(f'<Message xmlns="{namespace}"></Message>', encoding="utf-8")
    with pytest.raises(ImportRefused, match="not an ILR file of a supported year"):
        read(path)


def test_malformed_xml_is_refused_with_its_line(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text('<Message xmlns="ESFA/ILR/2025-26">\n<Learner>\n</Message>\n',
                    encoding="utf-8")
    with pytest.raises(ImportRefused, match="not well-formed") as refused:
        read(path)
    assert refused.value.problems[0].line == 3


def test_records_are_streamed_one_learner_at_a_time_in_chunks(tmp_path, monkeypatch):
    import ledger.imports.ilr as ilr

    monkeypatch.setattr(ilr, "CHUNK_BYTES", 512)
    source = IlrSource(FIXTURES / "ilr-2025-26.xml", {})
    source.header()
    seen = []
    for record in source.records():
        seen.append((record.get("learner"), source.bytes_read))
    assert [learner for learner, _ in seen] == ["R2501", "R2502", "R2503"]
    assert seen[0][1] < source.size  # the first learner came before the file was all read


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co")), min_size=1,
               max_size=30).map(str.strip).filter(bool)


@settings(deadline=None, max_examples=60,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(learners=st.lists(st.tuples(st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True), TEXT,
                                   TEXT, st.lists(st.sampled_from(["1", "2", "3", "6"]),
                                                  min_size=1, max_size=3)),
                         min_size=1, max_size=5))
def test_what_an_ilr_file_says_is_read_back_exactly_whatever_its_text(tmp_path, learners):
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<Message xmlns="ESFA/ILR/2026-27">'
             "<LearningProvider><UKPRN>10012345</UKPRN></LearningProvider>"]
    for reference, family, given_names, statuses in learners:
        parts.append(f"<Learner><LearnRefNumber>{reference}</LearnRefNumber>"
                     f"<FamilyName>{escape(family)}</FamilyName>"
                     f"<GivenNames>{escape(given_names)}</GivenNames><Sex>F</Sex>")
        for sequence, status in enumerate(statuses, 1):
            parts.append(f"<LearningDelivery><LearnAimRef>60134130</LearnAimRef>"
                         f"<AimSeqNumber>{sequence}</AimSeqNumber>"
                         f"<CompStatus>{status}</CompStatus></LearningDelivery>\n")
        parts.append("</Learner>\n")
    parts.append("</Message>\n")
    path = tmp_path / "generated.xml"
    path.write_text("".join(parts), encoding="utf-8")
    records = read(path)
    expected = [(reference, family, given_names, str(sequence), "10012345")
                for reference, family, given_names, statuses in learners
                for sequence in range(1, len(statuses) + 1)]
    assert [(r.get("learner"), r.get("family_name"), r.get("given_name"), r.get("enrolment"),
             r.get("centre")) for r in records] == expected
    assert all(r.get("gender") == "2" for r in records)


def test_a_file_with_a_namespace_prefix_reads_as_the_same_records(tmp_path):
    """`<ilr:Learner>` is a Learner: elements are read by their local names, at every depth."""
    plain = (FIXTURES / "ilr-2025-26.xml").read_text(encoding="utf-8")
    prefixed = (plain.replace('xmlns="ESFA/ILR/2025-26"', 'xmlns:ilr="ESFA/ILR/2025-26"')
                .replace("<", "<ilr:").replace("<ilr:/", "</ilr:").replace("<ilr:?", "<?"))
    assert "<ilr:LearnRefNumber>" in prefixed and "</ilr:LearningDelivery>" in prefixed
    path = tmp_path / "prefixed.xml"
    path.write_text(prefixed, encoding="utf-8")
    expected = read(FIXTURES / "ilr-2025-26.xml")
    assert read(path) == expected and len(expected) == 3


def test_text_broken_by_a_comment_or_cdata_is_read_whole(tmp_path):
    plain = (FIXTURES / "ilr-2025-26.xml").read_text(encoding="utf-8")
    family = read(FIXTURES / "ilr-2025-26.xml")[0].get("family_name")
    assert len(family) > 2
    broken = f"{family[:1]}<!-- a note -->{family[1:2]}<![CDATA[{family[2:]}]]>"
    path = tmp_path / "broken.xml"
    path.write_text(plain.replace(f"<FamilyName>{family}</FamilyName>",
                                  f"<FamilyName>{broken}</FamilyName>", 1), encoding="utf-8")
    assert read(path)[0].get("family_name") == family
