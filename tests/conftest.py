from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes import FakeEmbedder
from servers import chromium

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "corpus" / "000_431dc65471ed79db.txt"
CORPUS = REPO / "corpus"  # the starter library: the seed plus eight official texts


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def policy_corpus() -> Path:
    return CORPUS


METHANE = """---
title: 甲烷排放控制要点
date: 2023-11-07
issuer: 生态环境部
---

# 甲烷排放控制要点

## 一、主要目标

到2025年，甲烷排放控制政策、技术和标准体系逐步建立，甲烷排放统计核算、监测监管等基础能力有效提升。

## 二、重点任务

加强煤矿瓦斯抽采利用，推进油气田甲烷泄漏检测与修复，控制畜禽养殖和稻田甲烷排放。

鼓励企业开展甲烷回收利用，支持符合条件的甲烷减排项目参与温室气体自愿减排交易。
"""

MARKET = """---
title: 碳市场配额管理说明
date: 2024-02-04
---

重点排放单位应当在规定时限内清缴上年度的碳排放配额，清缴量应当大于等于生态环境部核查确认的实际排放量。

未按时足额清缴碳排放配额的，由生态环境主管部门责令改正，处以罚款，并核减下一年度配额。

碳排放配额分配以免费分配为主，可以根据国家有关要求适时引入有偿分配。
"""

NEWS = """<html><head><title>城市公交电动化进展_示例新闻网</title>
<script>var secret = "script-text";</script><style>.x{color:red}</style></head>
<body><nav>首页 | 新闻</nav>
<h1>城市公交电动化进展</h1>
<p>　　截至去年年底，全国新能源公交车保有量超过五十万辆，占公交车总量的比重持续上升。</p>
<!-- a comment that must not be indexed -->
<p onclick="alert(1)">多地出台补贴政策，支持老旧柴油公交车提前淘汰，并配套建设充电基础设施。</p>
<p class="article-editor">责任编辑：王小明</p>
</body></html>
"""


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "methane.md").write_text(METHANE, encoding="utf-8")
    (corpus / "market.md").write_text(MARKET, encoding="utf-8")
    (corpus / "news.html").write_text(NEWS, encoding="utf-8")
    return corpus


@pytest.fixture
def seed_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "seed"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    return corpus


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory) -> Path:
    """corpus/ (the seed and the official texts), embedded with the real default model (built once)."""
    from qa.build import build_index

    index_dir = tmp_path_factory.mktemp("real-index")
    build_index([CORPUS], index_dir)
    return index_dir


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, one per test module."""
    with chromium() as launched:
        yield launched
