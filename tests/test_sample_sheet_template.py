"""The template sample sheet under config/ is a sheet the workflow reads, and says what it
needs: every column of the schema is named in its comments."""

import pytest
import yaml
from workflow_helpers import REPO, read_sheet

from intercluster.errors import InputError
from intercluster.schemas import SCHEMA_DIR as SCHEMAS

TEMPLATE = REPO / "config" / "samples_template.tsv"


def test_template_reads_and_names_every_column():
    sheet = read_sheet(TEMPLATE)
    assert list(sheet.index) == ["run1_ag40_au40", "run2_ag40_au40"]
    assert sheet.loc["run2_ag40_au40", "dead_time_s"] == 25.0
    assert sheet.loc["run1_ag40_au40", "dimer_response"] is None
    # one run with a CID file, one without (pandas had turned the None into NaN: a crash)
    assert str(sheet.loc["run1_ag40_au40", "cid_mzml"]).endswith("config/data/run1_cid.mzML")
    assert sheet.loc["run2_ag40_au40", "cid_mzml"] is None
    assert set(sheet["condition"]) == {"ag40_au40"}
    assert str(sheet.loc["run1_ag40_au40", "mzml"]).endswith("config/data/run1.mzML")
    comments = "".join(line for line in TEMPLATE.read_text().splitlines(keepends=True)
                       if line.startswith("#"))  # fmt: skip
    schema = yaml.safe_load((SCHEMAS / "samples.schema.yaml").read_text())
    for column in schema["properties"]:
        assert column in comments, column


def test_template_files_are_placeholders():
    """Control: checked as a user's own sheet, the template's placeholder files are missing."""
    with pytest.raises(InputError, match="run1.mzML"):
        read_sheet(TEMPLATE, check_files=True)
