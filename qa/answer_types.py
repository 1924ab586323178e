"""The kind of fact a question asks for (a price, an amount, a span of time, a year, a date, a
place, a frequency, a title), as the pattern a quote must match before it counts as an answer;
and the question's form (date, number, penalty, list…), which tells sentence choice what kind
of sentence answers it."""

from __future__ import annotations

import re

# What each question form needs in the quotes before it counts as answered.
_PRICE_ASKED = re.compile(r"价格|价位|碳价|成交价|price", re.I)
_AMOUNT_ASKED = re.compile(
    r"罚款|罚多少|金额|多少钱|多少[\u4e00-\u9fff]{0,3}(?:费|金|钱)|fine", re.I
)
# 多长时间, 多久, 延期多长: a span of time, which a date or a bare number doesn't answer.
_DURATION_ASKED = re.compile(
    r"多长时间|多久|多长期限|期限(?:是|为)?多长|多少年|几年|how long|how soon|how much time"
    r"|how many (?:working |calendar |natural )?(?:days|weeks|months|years)",
    re.I,
)
_DURATION = re.compile(  # 二十个工作日, 2年内, 15日内; not the 2020年9月22日 of a calendar date
    r"(?<![\d年月.])(?:\d{1,3}|[一二三四五六七八九十百两]+)\s*"
    r"(?:个工作日|工作日|个自然日|自然日|个月|日内|天|周|星期|小时|年内|年)(?![\d])"
)
_PRICE = re.compile(r"\d[\d,.]*\s*(?:万|亿)?\s*(?:元|美元|欧元)(?:\s*/\s*吨|每吨)?")
# 几 after 和, 好, 这 is "a few" (有自媒体和几家机构串通), not a count asked.
_UNIT_ASKED = re.compile(
    r"(?:多少|(?<![和与跟及、好这那前后])几)(?:万|亿)?(吨|元|家|个工作日|个月|天|千瓦|立方米|平方米|人)"
)
# What answers 多少天 in a rule: 日, 个工作日, 个自然日 as well as 天.
_UNITS = {"天": "天|日|个工作日|个自然日|个月", "个工作日": "个工作日|日", "元": "元",
          "吨": "吨", "个月": "个月|日"}  # fmt: skip
# "in billions of tonnes", "how many kilowatts": the unit an English question asks a figure in.
_UNIT_ASKED_EN = re.compile(
    r"\b(?:in|how many|how much|what|which)\b(?: [\w-]+){0,3}? (tonnes|tons|kilowatts|"
    r"cubic metres|cubic meters|square metres|square meters|yuan)\b",
    re.I,
)
_UNITS_EN = {"tonne": "吨", "ton": "吨", "kilowatt": "千瓦", "cubic metre": "立方米",
             "cubic meter": "立方米", "square metre": "平方米", "square meter": "平方米",
             "yuan": "元"}  # fmt: skip
# A share asked: 按多大比例核减, by what percentage; answered by 50%, 百分之十, 三成, 5倍.
_SHARE_ASKED = re.compile(
    r"多大比例|什么比例|多少比例|比例是多少|比例为多少|百分之几|百分比是多少|多少个百分点"
    r"|\b(?:what|which) (?:percentage|proportion|share)\b|\bby what percent",
    re.I,
)
_SHARE = re.compile(r"\d+(?:\.\d+)?\s*[%％]|百分之|[一二三四五六七八九十]成|倍|个百分点")
# An amount asked of a fine (罚多少, "how big a fine"), not the kind of penalty (怎么处罚).
_LIMIT_ASKED = re.compile(
    r"上限|下限|最高|最低|最多|最少|多少"
    r"|(?i:how (?:much|big|large|high)|maximum|minimum|highest|lowest|\bwhat fines?\b)"
)
_SUBUNIT_ASKED = re.compile(r"哪(?:个|一个|些)?司局?")
_SUBUNIT = re.compile(r"[\u4e00-\u9fff]{2,10}司(?![法机])")
_ORDINAL_ASKED = re.compile(r"第几(次|届|批|号|期|轮)")
# 并处…价款等值以下的罚款: a fine of the value traded is an amount too
_MONEY = re.compile(r"(?:\d[\d,.]*|[一二三四五六七八九十百千]+)\s*(?:万|亿)?元|倍以上|等值以下")
# A title of office: what answers 担任什么职务 (and is looked for when choosing its sentence).
# A signature spaces its title out: 部　长　　黄润秋.
TITLES = re.compile(
    r"司\s*长|部\s*长|主\s*任|局\s*长|处\s*长|厅\s*长|主\s*席|总\s*理|总经理|书\s*记|负责人|发言人|委\s*员|专\s*员"
)
_DATE = re.compile(
    r"\d{4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|[一二三四五六七八九十]+月|之日|工作日|个月|日内|年底|以前|以后"
    r"|期限|每年|[春夏秋冬]季|世纪|年代|时期|期间"
    # a span after an event (登记后至少保存十年) says until when
    r"|后[^，。；]{0,8}?(?:\d+|[一二三四五六七八九十]+)\s*个?(?:年|月|日|天)"
)
_YEAR_ASKED = re.compile(r"哪一?年|何年|which year|what year|in what year", re.I)
# 比2005年下降65% names a baseline, not the year a thing happens.
_YEAR = re.compile(r"(?<![比较\d])\d{4}\s*年|[〇零一二三四五六七八九]{4}年")
_BASELINE_ASKED = re.compile(
    r"比哪一?年|比起哪一?年|compared (?:to|with) (?:what|which) year", re.I
)
_BASELINE_YEAR = re.compile(r"比\s*\d{4}\s*年")
# A figure asked (多少, what share); a year alone is none (qa.stated).
QUANTITY = re.compile(
    r"\d|[零一二三四五六七八九十百千万亿两]+(?:个|名|年|月|日|倍|万|亿|吨|元|项|条|天|人|次|家)|[%％]"
)
# 设在哪个城市, 哪些省份: a place the texts would name (北京, 湖北省, 长三角地区).
_PLACE_ASKED = re.compile(
    r"哪个(?:城市|省)|哪些(?:省份|省|城市)|哪几个(?:省|城市)"
    r"|设在哪|\bwhich (?:city|cities|province|provinces)\b|\bin which (?:city|province)",
    re.I,
)
_PROVINCES = ("北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 "
              "广东 海南 四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门 "
              "京津冀 长三角 粤港澳 珠三角 深圳 广州 武汉 成都").split()  # fmt: skip
# A named place: a province or city by name, or a name ending in 省/市 (not 省级, 市场, 城市).
_PLACE = re.compile(
    "|".join(_PROVINCES) + r"|(?<![本各该设区的城])[\u4e00-\u9fff]{2}(?:省|市)(?![级场辖])"
)
# 多久一次, how often: a frequency (每年, 每季度, 定期 is not one: it says no interval).
_FREQUENCY_ASKED = re.compile(
    r"多久一次|多长时间一次|每隔多久|频次|频率|how often|how frequently", re.I
)
_FREQUENCY = re.compile(
    r"每(?:年|季度|季|月|周|日|天|半年|[一二两三四五六七八九十\d]+(?:年|个月|月|周|日|天))|一年[一二两三四五六七八九十\d]+次"
)
_ASKING = re.compile(
    r"\b(?:how|what|which|when|where|who)\b|多少|哪|什么|几|何时|多久|如何|怎么|怎样", re.I
)
# An English question asking for a quantity without "how many": the minimum size, the rate.
_QUANTITY_ASKED_EN = re.compile(
    r"\bwhat (?:is |are |was )?(?:the )?(?:[\w-]+ ){0,4}(?:size|rate|factor|efficiency|percentage|"
    r"amount|threshold|number|hours?|limit|cap|ceiling|concentration|share|proportion|ratio)\b"
    r"|\b(?:minimum|maximum) (?:size|amount|number)\b",
    re.I,
)


# Words a rule uses for what a question calls otherwise (虚报 → 虚假的数据资料, 弄虚作假).
SYNONYMS = {
    "虚报": ("虚假", "弄虚作假"), "瞒报": ("虚假", "遗漏"), "造假": ("伪造", "弄虚作假"),
    "作假": ("弄虚作假",), "处罚": ("罚款",), "罚": ("罚款",), "惩罚": ("罚款",),
    "责任": ("罚款", "处分"), "后果": ("罚款",), "处理": ("处分", "罚款"), "生效": ("施行",), "实施": ("施行",), "碳价": ("价格",), "配额价格": ("成交价格",),
    "用": ("用于", "用途"), "用处": ("用于", "用途"), "拿来": ("用于",),
    # everyday words for what rules name formally
    "员工": ("工作人员",), "职工": ("工作人员",), "雇员": ("工作人员",), "买卖": ("交易",),
    "外包": ("委托",), "第三方": ("委托", "技术服务机构"), "开户": ("开设账户", "账户"),
    "公司": ("企业", "单位"), "上报": ("报送", "报告"), "补贴": ("补助", "奖补"),
    "领导": ("负责人",), "告诉": ("告知", "通知"), "钱": ("罚款", "资金"), "偷排": ("违法排放",),
    "不能": ("不得",), "不准": ("不得", "禁止"), "不许": ("不得", "禁止"),
    "老百姓": ("居民",), "百姓": ("居民",), "跑冒滴漏": ("泄漏",), "滴漏": ("泄漏",),
    "硬性": ("应当", "强制"), "ccer": ("核证自愿减排量",), "结论": ("决定",), "达峰": ("峰值",),
    "过期": ("失效",), "作废": ("失效",), "发改委": ("发展改革委",), "省厅": ("省级",),
    "门槛": ("以上", "达到"), "gdp": ("国内生产总值",), "vocs": ("挥发性有机物",),
    # policy shorthand: 双碳 is 碳达峰 and 碳中和; 蓝碳 is the ocean's carbon sinks
    "双碳": ("碳达峰", "碳中和"), "蓝碳": ("海洋", "碳汇"),
    # a plant in the carbon market is a key emitter of its sector
    "电厂": ("发电", "重点排放单位"), "钢厂": ("钢铁", "重点排放单位"), "水泥厂": ("水泥", "重点排放单位"),
}  # fmt: skip

# The measure a figure is asked of: 煤矿瓦斯抽采量达到多少 → 抽采量 (利用量 gives another).
_MEASURE_ASKED = re.compile(
    r"([\u4e00-\u9fff]{0,3}(?:量|率|比重|比例|强度|面积))"
    r"(?=(?:(?:到|在)?(?:\d{4}年|“十[一二三四五六七八九]五”(?:时期|期间|末)?)(?:底|前|末)?)?"
    r"(?:要|应当|应|需要|需|将)?(?:达到|提高到|降低到|下降到|控制在|是|为)?(?:多少|几))"
)


def asked_measure(question: str) -> str | None:
    """The measure whose figure the question asks for (收集率, 抽采量), as the quotes must name
    it; None when the question asks for no measured figure."""
    match = _MEASURE_ASKED.search(question)
    return match.group(1) if match and len(match.group(1)) >= 3 else None


# 保存几年, 申请延期多长时间: the act whose span is asked, just before the asking.
_ACT_ASKED = re.compile(
    r"([\u4e00-\u9fff]{2})(?:要|需要|应当|应|必须|可以|能|最多|最长|至少|最少|是|为|在)*"
    r"(?:多长时间|多久|几年|多少年)"
)
_NOT_ACTS = re.compile(r"要|需|应|必|可|能|最|至|是|为|在|后|内|前|时|间|隔|每|里")


def asked_act(question: str) -> str | None:
    """The act whose span a question asks (保存 of 保存几年, 延期 of 申请延期多长时间), as the
    quotes must name it; None when the words before the asking are not one (…后，过多久)."""
    from qa.text import tokenize

    match = _ACT_ASKED.search(question)
    if match is None or _NOT_ACTS.search(match.group(1)):
        return None
    # An act is a word of the question: 厅又 of 省厅又要在多久内给结论 straddles two.
    return match.group(1) if match.group(1) in tokenize(question) else None


# 多少个工作日内出具节能审查意见: the act a span is asked for, after the asking. A span the
# texts give for another act (5个工作日内一次告知…补正) doesn't answer it.
_SPAN_FOR = re.compile(
    r"(?:多少|几)个?(?:工作日|自然日|日|天|个月|周|小时)之?内[，,]?"
    r"(?:要|需要|应当|应|必须|可以|能|就|得|才|须|最晚|最迟)*([\u4e00-\u9fff]{2,14})"
)
# Words of finishing, not of an act: 多少天内完成 is said of whatever the rule's span is for.
_FINISHING = frozenset("完成 办完 完毕 做完 弄完 搞定 办理 处理 进行 开展 一次性 一次".split())


# within how many working days must the province forward…: the act, in English, follows
_SPAN_FOR_EN = re.compile(
    r"\bhow many (?:working |calendar |natural )?(?:days|weeks|months|hours)\b(.+)", re.I
)


def asked_span_act(question: str) -> list[str]:
    """The words of the act whose span a question asks (出具, 节能审查, 意见 of 多少个工作日内
    出具节能审查意见; of an English question, the translations of the words after the asking);
    empty when no act follows the asked span (多少天内完成)."""
    from qa.crosslingual import english_terms
    from qa.text import tokenize

    english = _SPAN_FOR_EN.search(question)
    if english is not None:
        return [w for term in english_terms(english.group(1)) for w in term if len(w) >= 2]
    match = _SPAN_FOR.search(question)
    if match is None:
        return []
    words = tokenize(match.group(1))
    return [w for w in words if len(w) >= 2 and w not in ASKING_WORDS and w not in _FINISHING]


# A person asked by office (哪位总理签署, 部长是谁, Who was the minister…): an organ doesn't
# answer it (国家发展改革委负责实施…), a title does (总理　李强). A signature spaces it out.
_OFFICE_NAMES = ("总理", "部长", "主任", "司长", "局长", "主席", "书记", "组长", "厅长", "处长", "院长",
                 "行长", "会长", "秘书长", "省长", "市长")  # fmt: skip
_NAMED = "|".join(_OFFICE_NAMES)
_PERSON_ASKED = re.compile(
    rf"哪一?位(?:副?(?:{_NAMED})|负责人|发言人|官员|领导)|(?:{_NAMED}|负责人|发言人)(?:是谁|叫什么)"
    r"|\bwho (?:is|was|were) (?:the |china's )?(?:[\w']+ ){0,3}"
    r"(?:minister|director|head|chair|premier|spokes\w+)\b"
    r"|\bwhich (?:minister|official|officials|person|director|premier)\b",
    re.I,
)
# The office a question names (in Chinese or English) → the pattern of that title in a text.
_OFFICES = {
    **{name: r"\s*".join(name) for name in _OFFICE_NAMES}, "发言人|spokes": "发言人",
    "premier": r"总\s*理", "minister": r"部\s*长", r"\bdirector": r"主\s*任|司\s*长|局\s*长",
    r"\bchair": r"主\s*席",
}  # fmt: skip


def required_shape(question: str, form: str | None) -> re.Pattern | None:
    """What a quote must hold to answer a question that asks for a price, an amount, a number,
    a date or a title; None when any quote may answer."""
    if _PERSON_ASKED.search(question):
        # the office asked, when it is named: a premier's signature doesn't name a minister
        offices = [o for word, o in _OFFICES.items() if re.search(word, question, re.I)]
        return re.compile("|".join(offices)) if offices else TITLES
    if _PRICE_ASKED.search(question) and re.search(r"多少|几|是什么|how much|what", question, re.I):
        return _PRICE
    if _SHARE_ASKED.search(question):  # 按多大比例核减: a share, not any figure (5万元)
        return _SHARE
    unit = _UNIT_ASKED.search(question)
    english_unit = _UNIT_ASKED_EN.search(question)
    if unit or english_unit:
        asked = unit.group(1) if unit else _UNITS_EN[english_unit.group(1).lower().rstrip("s")]
        units = _UNITS.get(asked, asked)
        # 应清缴400万吨，最多能抵销多少吨: a share of the asker's own amount answers (5%).
        share = r"|\d[\d.]*\s*%" if re.search(rf"\d\s*(?:万|亿)?\s*(?:{units})", question) else ""
        return re.compile(
            # 15日 of 5月15日 is a date, not a count of days
            rf"(?<![\d年月.])(?:\d[\d,.]*|[一二三四五六七八九十百千两]+)\s*(?:万|亿)?\s*(?:{units})"
            + share
        )
    if _AMOUNT_ASKED.search(question) and (form == "number" or _LIMIT_ASKED.search(question)):
        return _MONEY
    if _SUBUNIT_ASKED.search(question):  # 哪个司局: a ministry's own department (应对气候变化司)
        return _SUBUNIT
    ordinal = _ORDINAL_ASKED.search(question)
    if ordinal:  # 第几次部务会议: the ordinal, not the day of the meeting
        return re.compile(rf"第[一二三四五六七八九十百零〇\d]+{ordinal.group(1)}")
    if _DURATION_ASKED.search(question):
        # 中间隔了多久？分别是哪天？: the two days answer as well as the span between them.
        if re.search(r"哪一?天|几月几[日号]|什么日子|日期", question):
            return re.compile(f"{_DURATION.pattern}|{_DATE.pattern}")
        return _DURATION
    if _BASELINE_ASKED.search(question):  # 比哪一年下降多少: the year compared with
        return _BASELINE_YEAR
    if _YEAR_ASKED.search(question):
        return _YEAR  # 哪一年: 11月25日 doesn't say which year
    # A question that asks two things (how are they picked, and how often?) is answered in part.
    if len(_ASKING.findall(question)) == 1:
        if _FREQUENCY_ASKED.search(question):
            return _FREQUENCY
        if _PLACE_ASKED.search(question):
            return _PLACE
        if _QUANTITY_ASKED_EN.search(question):
            return QUANTITY
    return {"number": QUANTITY, "date": _DATE, "title": TITLES, "who": _AGENT}.get(form or "")


# --- the form of a question: what kind of sentence answers it ---------------------------------
FIGURE = re.compile(
    r"\d|[零一二三四五六七八九十百千万亿两]+(?:个|名|年|月|日|倍|万|亿|吨|元|项|条|天|人|次)|[%％]"
)
_SAYS_DATE = re.compile(r"\d{4}\s?年\d{1,2}月|\d{1,2}月\d{1,2}日|\d{1,2}月(?:底|前)|之日|起施行")
_SAYS_WHO = re.compile(
    r"部门|机关|机构|委员会|国务院|生态环境部|发展改革委|主管|负责|表示|司长|部长|主任|局长|陆新明"
)
# 谁/哪个部门 is answered by a quote that names an organ, office, body or person: a sentence that
# answers who, or one naming 领导小组, 我部, 总理　李强, 项目业主 — not 研究设立国家低碳转型基金.
_AGENT = re.compile(
    _SAYS_WHO.pattern + r"|政府|人民代表大会|党中央|小组|我部|本部|厅|局|司|办公室|协会|银行|中心|"
    r"交易所|单位|企业|业主|人员|记者|总理|主席|书记|部\s*长|司\s*长|主\s*任"
)
_SAYS_PENALTY = re.compile(r"罚款|处罚|处分|责令|追究|没收|停产整治|取消|撤销|禁止其|核减|警告")
_SAYS_WHY = re.compile(r"为了|旨在|因为|由于|目的|是.{0,20}的(?:重要|必然)")
_SAYS_MAY = re.compile(r"不得|禁止|可以|允许|不予|无需|不需要|免于|不能")
_SAYS_LIST = re.compile(
    r"、|（[一二三四五六七八九十]+）|[一二三四五]是|[两三四五六七八九十几]个方面|如下|下列"
)
# (form, question pattern, sentence pattern that answers it); the first match wins
FORMS = (
    ("date", re.compile(r"何时|什么时候|哪一?年|哪天|几月|几号|日期|截止|起施行|生效|开始施行|"
                        r"^\W*when\b|\bwhen (?:does|did|do|is|are|was|were|will|would|should|must|can|has|have)\b|"
                        r"what (?:year|date)|take effect|deadline", re.I), _SAYS_DATE),
    ("number", re.compile(r"多少|(?<![哪这那])几[个年月天次名人倍项条]|多大|多高|多长|多久|比例|比重|百分|金额|"
                          r"how (?:many|much|long|soon)|what (?:percentage|share|proportion|threshold|amount)|"
                          r"(?:above|below|over|under|exceed\w*) what", re.I), FIGURE),
    # Targets are stated with figures (65%, 12亿千瓦), but a 目标 question is not refused for
    # lacking one, as a 多少 question is.
    ("target", re.compile(r"目标|指标|\btargets?\b|\bgoals?\b", re.I), FIGURE),
    ("penalty", re.compile(r"处罚|罚款|罚多少|被罚|责任|后果|怎么处理|如何处理|处分|会怎样|会怎么样|penalt|fine[sd]?\b|punish", re.I), _SAYS_PENALTY),
    ("title", re.compile(r"职务|职位|头衔|担任|\bposition\b|what title", re.I), TITLES),
    ("who", re.compile(r"谁|哪个(?:部门|机构|单位|司局|司)|哪些(?:部门|机构|单位|司局)|职务|职位|担任|\bwho\b|\bwhom\b|which (?:[\w-]+ ){0,2}(?:department|agency|authority|authorities|ministry|body|bureau|regulator|organ)s?\b|position", re.I), _SAYS_WHO),
    ("why", re.compile(r"为什么|为何|原因|目的|\bwhy\b", re.I), _SAYS_WHY),
    # May one, must one (能不能买卖配额, Can a project…register?): a rule that allows or bars.
    ("may", re.compile(r"能不能|可不可以|可以[^，。？]*吗|能否|是否(?:可以|允许|需要|必须|应当)|允许[^，。？]*吗|"
                       r"要不要|需不需要|必须[^，。？]*吗|^\W*(?:can|may|must|is it (?:allowed|possible))\b|"
                       r"^\W*(?:do|does|is|are) [^?]*\b(?:have to|need to|required|allowed|permitted)\b", re.I),
     _SAYS_MAY),
    ("list", re.compile(r"哪些|哪几|包括|有什么|什么|\bwhat\b|\bwhich\b", re.I), _SAYS_LIST),
    ("how", re.compile(r"如何|怎么|怎样|\bhow\b", re.I), None),
)  # fmt: skip

# 原《…办法》同时废止: at the time the sentence before sets (本办法自2025年9月1日起施行).
SAME_TIME = re.compile(r"同时(?:废止|失效|停止执行)")

# Words of the asking itself; they never occur in the answer
ASKING_WORDS = frozenset(
    "多长 时间 时候 多久 多大 多高 哪个 哪种 能否 是否 可否 可以 什么样 怎么样 具体 一下 请问 "
    "职务 职位 担任 多少 什么 什么时候 哪些 哪一年 几个 何时 如何 怎么 规定 内容 情况 有关 "
    "相关 提出 包括 处罚 多长时间 要求 部分 方面 哪几 几种 数值 按规定 按照规定 "
    # what the figure is: a share (百分比), a year (年份), a date (时间节点)
    "百分比 年份 节点 时间节点".split()
)


def question_form(question: str) -> str | None:
    for name, pattern, _ in FORMS:
        if pattern.search(question):
            return name
    return None


def enumeration_of(question: str) -> re.Pattern | None:
    """For 哪些行业 / 哪几类项目: a clause that enumerates things of that kind (A、B、C行业)."""
    kinds = [k for k in re.findall(r"(?:哪些|哪几[种类个项]?|什么)([\u4e00-\u9fff]{2})", question)
             if k not in _CONTENT_KINDS]  # fmt: skip
    # 有哪些硬性条件？: the kind ends the question, and a list of them answers it (符合以下条件：)
    phrases = re.findall(r"(?:哪些|哪几[种类个项]?)([\u4e00-\u9fff]{3,6})[？?]?$", question)
    ending = [p[-2:] for p in phrases if not re.search(r"[要会能可应被是有在需得做]", p)]
    ending = [k for k in ending if k not in _CONTENT_KINDS and k not in kinds]
    shapes = []
    if (
        kinds
    ):  # short items, the kind right after the last one: not 铝冶炼行业重点排放单位 for 哪些单位
        shapes.append(rf"(?:[\u4e00-\u9fff]{{1,6}}、)+[\u4e00-\u9fff]{{1,6}}(?:{'|'.join(kinds)})")
    if ending:
        shapes.append(rf"(?:以下|下列)(?:{'|'.join(ending)})")
    return re.compile("|".join(shapes)) if shapes else None


# Kinds that any clause may end in (碳达峰、碳中和工作): they name no kind of thing.
_CONTENT_KINDS = frozenset("工作 内容 事项 方面 措施 举措 安排 要求 任务 规定 问题 情况".split())
