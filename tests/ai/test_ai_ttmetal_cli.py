"""`uhopc compile --ai --target ttmetal`: the project goes through the pipeline (NOT_RUN after the
syntax check) and the ai stage asks for kernels, which are only checked: ours stays."""
import json
import shutil
from pathlib import Path

import pytest

from ai.fake_llm import reply
from uhop_cc import ir
from uhop_cc.cli import main
from uhop_cc.targets.ttmetal.kernels import all_sources
from uhop_cc.targets.ttmetal.lowering import plan_kernel

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_compile_ai_ttmetal(llm, tmp_path, capsys, monkeypatch):
    if not shutil.which("g++"):
        pytest.skip("no g++ for the syntax check")
    monkeypatch.delenv("TT_METAL_HOME", raising=False)
    k = ir.load_file(EXAMPLES / "relu.uir")[0]
    src = all_sources(plan_kernel(ir.bind_shapes(k, {s: 1024 for s in k.sizes})))
    llm.queue(reply("\n".join(f"{role.title()} kernel:\n```cpp\n// {role}\n{text}```" for role, text in src.items())))
    out = tmp_path / "o"
    rc = main(["compile", str(EXAMPLES / "relu.uir"), "--target", "ttmetal", "--ai", "--samples", "1", "--rounds", "1",
               "-o", str(out), "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["status"] == "NOT_RUN" and d["strategy"] == "generic"  # our project stays
    assert [a["status"] for a in d["ai"]["attempts"]] == ["NOT_RUN"]  # the LLM's kernels: checked, never run
    assert (out / "plan.json").is_file() and (out / "kernels" / "compute" / "compute.cpp").is_file()
