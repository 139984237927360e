"""Word lists the grader relies on: function words, negation cues, contrast connectives.

Kept apart from the logic so that the lists can be read and extended on their own.
All entries are in normalised form (lower case, simplified Chinese).
"""

from __future__ import annotations

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"


def _words(text: str) -> list[str]:
    return text.split()


# English function words and light verbs: they carry sentence structure, not content.
EN_FUNCTION_WORDS = frozenset(
    _words(
        """
    a an the this that these those it its it's they them their there here what which who whom whose when where why
    how we you he she me us my our your his her one ones is are was were be been being am isn't aren't wasn't
    weren't do does did doing done don't doesn't didn't have has had having hasn't haven't can could will would
    shall should may might must cannot can't won't wouldn't shouldn't couldn't of to in on at by for with from into
    onto over under about as than then so such very too also just only and or but nor not no never if else because
    since while although though whereas unless until each every all any some many much more most less least few
    other another same both either neither between through during before after above below up down out off again
    further once make makes made making keep keeps kept let lets cause causes caused lead leads led help helps allow
    allows prevent prevents avoid avoids become becomes get gets got give gives use uses used using need needs thus
    hence therefore however instead rather etc via per like
        """
    )
)

# Chinese function words: particles, copulas, connectives, modal and relational verbs.  A run of CJK
# text without any of them is a bare term ("梯度消失"), not an explanation.  Lookarounds keep terms such as
# 饱和, 对称, 并行, 正则, 性能, 更新, 随机 out.
ZH_FUNCTION = (
    # a lookbehind sits after its character ("能(?<![性功]能)" rather than "(?<![性功])能") so that the regex
    # engine can scan for the first characters quickly
    r"的|是|了|会(?!话)|因为|所以|如果|若|使|让|可以|能够|能(?<![性功智技动]能)(?![力量])|就|而|则(?<![正规]则)|由于|被|把|将"
    r"|需要|要(?<![重主]要)(?!素)|这|那|它|其(?!他)|并且|但|且|不(?!同|对称|变|确定)|没|也|都|还|才|很|更(?<!变更)(?!新)|越|当|得|着"
    r"|随着|随(?<!伴随)(?!机)|导致|防止|避免|保持|通过|从而|因此|对于|对(?<![绝相]对)(?![称齐比应角])|和(?<![饱总求]和)|与|在|即"
    r"|用于|用来|为了|因而|我|你|他|们|么|怎|时(?<![实及]时)(?![间序刻])|跟(?!踪)|只|有关|无关|取决于"
)

# CJK characters an in-order alias match may miss or see replaced: degree adverbs, particles, copulas and
# connectives ("梯度非常小" says "梯度很小").  A content character may not be missing: "推理时也能并行" must not
# pass for "推理时串行", one character apart.
SOFT_CJK = frozenset("很非常太较更最极挺蛮颇特别十分相当的地得了着过是为都也就还会在有所被把将对和与及或而之其即则")

# Stop words removed from TF-IDF features (word unigrams / bigrams).
EN_STOP_WORDS = EN_FUNCTION_WORDS | frozenset(["e.g", "i.e", "eg", "ie"])

# Negation cues.  Each pattern is a regex fragment; compounds that are not negations are excluded.
ZH_NEGATION = (
    r"并非|绝非|而非|而不是|并不是|并不|并没有|毫无|无需|无须|无法|无关|未必|没有|不是|不会|不能|不需要|不用|不必|"
    r"不(?<!不得不)(?!同|仅|只|止|但|论|管|断|少|错|久|过|外乎|可或缺|可避免|容忽视|言而喻|一样|变|然|得不|定|妨|多)"
    r"|没"
    r"|未(?!来|知)"
    r"|无(?!论|穷|限|数|偏|监督|损|序|疑|非|关紧要)"
)
# Grouped by first letter, each group opening with its letter and then the "not inside a word" lookbehind;
# within a group the alternatives keep the order that decides which one wins.
EN_NEGATION_GROUPS = (
    r"n(?<![a-z']n)(?:ot(?!\s+(?:only|just|merely|simply|to\s+mention|necessarily\s+only))"
    r"|o(?!\s+(?:matter|doubt|longer\s+than|sooner))|ever|or|either|one(?!\s+other)|othing(?!\s+but)|eedn't"
    r"|o\s+longer)",
    r"w(?<![a-z']w)(?:ithout|(?:as|ere|ill|o|ould)n't|(?:as|ere|o|ould)nt)",
    r"c(?<![a-z']c)(?:annot|(?:an|a|ould)n't|(?:a|ould)nt)",
    r"u(?<![a-z']u)n(?:able|necessary|like|related)",
    r"i(?<![a-z']i)(?:rrelevant|sn't|snt|nstead\s+of(?!\s+(?:letting|allowing)))",
    r"d(?<![a-z']d)(?:(?:o|oes|id)n't|(?:o|oes|id)nt)",
    r"a(?<![a-z']a)(?:ren't|rent|s\s+opposed\s+to)",
    r"h(?<![a-z']h)(?:(?:as|ave|ad)n't|(?:as|ave)nt)",
    r"s(?<![a-z']s)houldn'?t",
    r"m(?<![a-z']m)ustn't",
    r"r(?<![a-z']r)ather\s+than(?!\s+(?:let|letting|allow|allowing))",
    r"f(?<![a-z']f)ails?\s+to",
    r"l(?<![a-z']l)acks?",
)


def _word_end(groups: tuple[str, ...]) -> tuple[str, str]:
    """Alternatives that must end a word, as one group and as a flat alternation.

    The flat form ("n...(?![a-z])|w...(?![a-z])|...") matches the same text in the same order, but
    every alternative opens with a literal character: combined with other such alternatives into one
    pattern, it lets the regex engine scan for those characters instead of trying the whole
    alternation at every position (several times faster on a sentence).
    """
    return "(?:" + "|".join(groups) + ")(?![a-z])", "|".join(g + "(?![a-z])" for g in groups)


EN_NEGATION, EN_NEGATION_FLAT = _word_end(EN_NEGATION_GROUPS)

# Negations right after a match that negate it ("X is not ...", "X并不...").
ZH_POST_NEGATION = (
    r"(?:也|就|都|则|并|却|就会|其实)?"
    r"(?:并不|并非|并没有|不是|不会|不能|不再|没有|无法|无关|不需要|不必|不)(?!同|仅|只|断|但|变|少|过)"
)
EN_POST_NEGATION = (
    r"(?:(?:is|are|was|were|does|do|did|will|would|can|could|should|has|have|had|must)\s+(?:not|never)(?!\s+only)"
    r"|(?:do|does|did|is|are|was|were|can|could|will|would|should|has|have|had|must)n't"
    r"|(?:do|does|did|is|are|was|were|ca|wo|should|would|could|has|have)nt"
    r"|cannot|won't|never|has\s+nothing|have\s+nothing|(?:is|are)\s+(?:irrelevant|unrelated|unnecessary))(?![a-z])"
)

# Connectives that open a new clause (contrast).  "而不是 / rather than" open a clause *and* negate it.
ZH_CONTRAST = r"而是|但是|然而|不过|可是|反而|而(?<![从因进然]而)(?![且言是已])|但(?!凡)|却"
EN_CONTRAST, EN_CONTRAST_FLAT = _word_end(  # grouped by first letter, lookbehind after it (see EN_NEGATION)
    (
        r"b(?<![a-z]b)ut", r"h(?<![a-z]h)owever", r"w(?<![a-z]w)(?:hereas|hile)",
        r"a(?<![a-z]a)(?:lthough|s\s+opposed\s+to)", r"t(?<![a-z]t)hough", r"y(?<![a-z]y)et",
        r"r(?<![a-z]r)ather\s+than", r"i(?<![a-z]i)nstead\s+of", r"u(?<![a-z]u)nlike",
    )
)

# A sentence that opens with a negative condition is a counterfactual: its negations describe what
# happens without the thing, which affirms the point ("如果不缩放，softmax会饱和"; "without residuals, ... cannot").
COUNTERFACTUAL = (
    r"^\W*(?:(?:如果|若|假如|要是|一旦|倘若)?(?:不|没|没有|去掉|去除|缺少|缺乏|不用|不加|不做)"
    r"|without|in\s+the\s+absence\s+of|if\s+(?:we|you|one|it|there|they)?\s*(?:do\s+not|don't|does\s+not|doesn't|did\s+not|didn't|is\s+no|are\s+no|were\s+no|had\s+no|not|no|never|removed?|drop(?:ped)?|skip(?:ped)?)"
    r"|if\s+\w+(?:\s+\w+)?\s+(?:is|are|were|was)\s+(?:not|removed|omitted|dropped|missing))"
)

# A sentence that supposes, reports, compares or warns about a claim does not make it: "如果把位置编码拼接到词向量后面，
# 维度会变大", "a common mistake is to think Q comes from the encoder".  Wrong claims are not read there.
HYPOTHETICAL = (
    r"如果|若|假如|假设|假使|要是|倘若|一旦|的话|以为|误认为|误解|误区|错误地|错误的|有人|很多人|说成|当成|常见的错|相比|比起|不对|不正确|说法|是错的|错了|错误|忘记|忘了|去掉|去除|移除|取代|代替|消融|但|不过|然而|吗$|呢$|❌|✗|prefill|prompt"
    r"|(?<![a-z])(?:if|suppose[ds]?|supposing|assum(?:e|es|ed|ing)|would|were\s+to|imagine|hypothetical(?:ly)?|"
    r"mistak\w*|misconceptions?|misunderst\w*|wrong(?:ly)?|myths?|naive(?:ly)?|tempting|otherwise|"
    r"compared\s+(?:to|with)|versus|vs|incorrect(?:ly)?|not\s+right|false|bugs?|forget(?:ting)?|forgot|removes?|removed|drops?|dropped|"
    r"instead|ablations?|but|however|whereas|while|although|though|yet|"
    r"(?:people|some|many|others)\s+(?:often\s+|usually\s+|sometimes\s+)?(?:say|think|describe|claim|believe))(?![a-z])"
)

# Words of an alias that need not appear in the reply (grammar only; "same", "each", "not" do count).
ALIAS_STOP_WORDS = frozenset(
    _words(
        """
    a an the of to in on at by for with from into onto is are was were be been being am it its this that these those
    they them their there and or as do does did can could will would should shall may might has have had so such
    very which who whom whose what then than also just
        """
    )
)
