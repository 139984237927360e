"""Every user-facing sentence in Chinese and English.

Templates use str.format placeholders; a test checks that both languages of each
message exist and use the same placeholders.
"""

from __future__ import annotations

from typing import Any

LANGS = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # generic
    "error.unknown_command": {
        "zh": "没有这个命令：{name}。可用命令：{valid}。用 help 查看说明。",
        "en": "Unknown command: {name}. Valid commands: {valid}. Try help.",
    },
    "error.bad_args": {"zh": "参数不对。用法：{usage}", "en": "Bad arguments. Usage: {usage}"},
    "error.unknown_question": {
        "zh": "没有题目 {qid}。{suggest}",
        "en": "There is no question {qid}. {suggest}",
    },
    "error.did_you_mean": {"zh": "你是不是想找：{ids}？", "en": "Did you mean: {ids}?"},
    "error.unknown_section": {
        "zh": "没有第 {section} 部分。可选：{valid}。",
        "en": "There is no section {section}. Valid sections: {valid}.",
    },
    "error.unknown_tag": {"zh": "没有标签 {tag}。可选：{valid}。", "en": "Unknown tag {tag}. Valid tags: {valid}."},
    "error.empty_scope": {"zh": "这个范围里没有题目。", "en": "There are no questions in that scope."},
    "error.too_long": {
        "zh": "回答太长了（{length} 字符），上限是 {limit} 字符。请精简后再发，这次没有保存。",
        "en": "That reply is too long ({length} characters); the limit is {limit}. "
        "Please shorten it; nothing was saved.",
    },
    "error.empty_reply": {"zh": "回答是空的，没有保存。", "en": "That reply is empty; nothing was saved."},
    "error.internal": {
        "zh": "出了点问题，已记录。你的数据没有丢失，请稍后再试。",
        "en": "Something went wrong and was logged. Nothing you sent was lost; please try again.",
    },
    "error.storage": {
        "zh": "没能保存：机器人的数据库出错了（已记录）。你刚才发的这条没有保存，请稍后再发一次。",
        "en": "That could not be saved: the bot's database failed (logged). What you just sent was not stored; "
        "please send it again in a while.",
    },
    "error.delivery_failed": {
        "zh": "平台暂时没有接受这条消息（已记录）。你提交的内容都已保存；揭晓会自动重新发布，不必再操作一次。",
        "en": "The platform did not accept a message just now (logged). Everything you sent is saved, and a "
        "reveal is posted again automatically: there is no need to repeat the command.",
    },
    "error.dm_only": {"zh": "这个命令只能在私信中使用。", "en": "This command works in direct messages only."},
    "error.channel_only": {"zh": "这个命令只能在频道中使用。", "en": "This command works in a channel only."},
    # rounds
    "round.already_open": {
        "zh": "这个频道已经有一道进行中的题：{qid}，还剩 {left}。",
        "en": "A round is already open in this channel: {qid}, {left} left.",
    },
    "round.already_open_race": {"zh": "刚刚有人出了题。", "en": "Someone just opened a round."},
    "round.button_closed": {
        "zh": "这道题的这一轮已经结束，这个按钮不再起作用。",
        "en": "This question's round is over; its buttons no longer do anything.",
    },
    "round.none_open": {
        "zh": "这个频道现在没有进行中的题。用 ask 出一道。",
        "en": "There is no open round in this channel. Use ask to start one.",
    },
    "round.not_allowed": {
        "zh": "只有出题人或频道管理员可以使用 {action}。",
        "en": "Only the person who asked or a channel manager can use {action}.",
    },
    "round.cancelled": {"zh": "{qid} 已取消，不揭晓。", "en": "{qid} was cancelled without a reveal."},
    "round.post_failed": {
        "zh": "无法在这个频道发布题目（机器人可能没有被邀请进来或没有发言权限），本轮已取消。",
        "en": "Could not post the question in this channel (is the bot invited, with permission to post?); "
        "the round was cancelled.",
    },
    "round.asked": {"zh": "题目已发布。", "en": "Question posted."},
    "round.question_title": {"zh": "面试题 {qid}", "en": "Interview question {qid}"},
    "round.how_to_answer": {
        "zh": "点击“回答”私下作答（揭晓前他人看不到），或在本条消息的讨论串里回复。限时 {minutes} 分钟。",
        "en": "Press Answer to reply privately (hidden until the reveal), or reply in this message's thread. "
        "Time limit: {minutes} min.",
    },
    "round.how_to_answer_form_only": {
        "zh": "点击“回答”私下作答（揭晓前他人看不到）。限时 {minutes} 分钟。",
        "en": "Press Answer to reply privately (hidden until the reveal). Time limit: {minutes} min.",
    },
    "round.closed_revealed": {
        "zh": "已揭晓：参考答案和得分在讨论串里。",
        "en": "Revealed: the reference answer and scores are in the thread.",
    },
    "round.closed_skipped": {
        "zh": "已跳过：参考答案在讨论串里，本题不计分。",
        "en": "Skipped: the reference answer is in the thread; no scores.",
    },
    "round.closed_cancelled": {"zh": "已取消。", "en": "Cancelled."},
    "round.new_cycle": {
        "zh": "这个范围的题已经全部出过，开始新一轮。",
        "en": "Every question in this scope has been asked; starting a new cycle.",
    },
    "round.follow_up_of": {"zh": "追问（接 {qid}）", "en": "Follow-up to {qid}"},
    "round.reminder": {"zh": "提醒：{qid} 还剩 {left}。", "en": "Reminder: {left} left for {qid}."},
    "round.recorded": {
        "zh": "已记录你的回答（第 {version} 版），截止前可以修改，以最后一版为准。",
        "en": "Your answer is recorded (version {version}). You can change it until the deadline; the last one counts.",
    },
    "round.practice": {
        "zh": "这道题已经揭晓，这次回答作为练习保存，不计入排行榜。练习得分：{score}/100。",
        "en": "This round was already revealed: your reply is saved as practice and does not count. "
        "Practice score: {score}/100.",
    },
    "round.reveal_title": {"zh": "揭晓 · {qid}", "en": "Reveal · {qid}"},
    "round.skipped_title": {"zh": "跳过（不计分）· {qid}", "en": "Skipped (not scored) · {qid}"},
    "round.no_replies": {"zh": "这轮没有人作答。", "en": "Nobody answered this round."},
    "round.scores": {"zh": "得分", "en": "Scores"},
    "round.best": {"zh": "最佳：{name}（{score} 分）", "en": "Best: {name} ({score})"},
    "round.fastest": {"zh": "最快：{name}（{time}）", "en": "Fastest: {name} ({time})"},
    "round.top": {"zh": "本周频道前五", "en": "This week's top 5 in the channel"},
    "round.follow_up_offer": {"zh": "接下来可以追问：{qid}（ask {qid}）", "en": "Next, a follow-up: {qid} (ask {qid})"},
    "round.summary": {
        "zh": "{qid} 已揭晓：{count} 人作答，最佳 {best}。详情见讨论串。",
        "en": "{qid} revealed: {count} replied, best {best}. Details in the thread.",
    },
    "round.replies": {"zh": "回答", "en": "Replies"},
    "round.anonymous": {"zh": "匿名", "en": "anonymous"},
    "board.title": {"zh": "排行榜 · {period} · {scope}", "en": "Leaderboard · {period} · {scope}"},
    "board.empty": {"zh": "这个时段还没有成绩。", "en": "No scores in this period yet."},
    "board.you": {"zh": "你的排名：第 {rank} 名，{points} 分", "en": "Your rank: #{rank}, {points} points"},
    "board.you_none": {"zh": "你在这个时段还没有成绩。", "en": "You have no score in this period yet."},
    "board.line": {
        "zh": "{rank}. {name} — {points} 分（{rounds} 题）{streak}",
        "en": "{rank}. {name} — {points} pts ({rounds} round{s}){streak}",
    },
    "period.week": {"zh": "本周", "en": "this week"},
    "period.month": {"zh": "本月", "en": "this month"},
    "period.all": {"zh": "全部", "en": "all time"},
    "scope.channel": {"zh": "本频道", "en": "channel"},
    "scope.server": {"zh": "全服务器", "en": "server"},
    "stats.title": {"zh": "{name} 的统计 · {scope}", "en": "Stats for {name} · {scope}"},
    "stats.body": {
        "zh": "作答 {rounds} 题，平均 {average} 分。连续作答：当前 {current} 天，最长 {longest} 天。",
        "en": "{rounds} round{s} answered, average {average}. Reply streak: {current} day(s) now, longest {longest}.",
    },
    "stats.scheduled": {
        "zh": "每日一题连续：当前 {current} 天，最长 {longest} 天。",
        "en": "Daily-question streak: {current} now, longest {longest}.",
    },
    "stats.best": {"zh": "最强主题：{tags}", "en": "Best topics: {tags}"},
    "stats.weakest": {"zh": "最弱主题：{tags}", "en": "Weakest topics: {tags}"},
    "stats.unknown_user": {"zh": "还没有 {user} 的记录。", "en": "No record of {user} yet."},
    "settings.title": {"zh": "频道设置", "en": "Channel settings"},
    "settings.not_allowed": {
        "zh": "只有频道管理员可以修改这个频道的设置。",
        "en": "Only a channel manager can change this channel's settings.",
    },
    "settings.bad_value": {
        "zh": "设置 {key} 不能取 {value}。可选：{valid}",
        "en": "Setting {key} cannot be {value}. Valid: {valid}",
    },
    "lang.set": {"zh": "语言已切换为中文。", "en": "Language set to English."},
    "error.bad_args_detail": {
        "zh": "参数不对（{detail}）。用法：{usage}",
        "en": "Bad arguments ({detail}). Usage: {usage}",
    },
    # schedules (the daily question)
    "schedule.not_allowed": {
        "zh": "只有频道管理员可以设置每日一题。",
        "en": "Only a channel manager can set up the daily question.",
    },
    "schedule.none": {
        "zh": "这个频道还没有每日一题。例如：schedule daily 09:30 Asia/Shanghai",
        "en": "This channel has no daily question yet. For example: schedule daily 09:30 Asia/Shanghai",
    },
    "schedule.off": {"zh": "每日一题已关闭。", "en": "The daily question is off."},
    "schedule.bad_time": {
        "zh": "时间“{value}”不对，请用 24 小时制 HH:MM，例如：schedule daily 09:30 Asia/Shanghai",
        "en": "“{value}” is not a time; use 24-hour HH:MM, for example: schedule daily 09:30 Asia/Shanghai",
    },
    "schedule.bad_zone": {
        "zh": "没有时区“{zone}”。请用 IANA 时区名，例如：schedule daily 09:30 Asia/Shanghai（或 Europe/Berlin、"
        "America/New_York、UTC）",
        "en": "Unknown time zone “{zone}”. Use an IANA zone name, for example: schedule daily 09:30 Asia/Shanghai "
        "(or Europe/Berlin, America/New_York, UTC)",
    },
    "schedule.bad_duration": {
        "zh": "--{option} 不能取“{value}”：{limits}。写法例如 90m、8h、1h30m。",
        "en": "--{option} cannot be “{value}”: {limits}. Write it like 90m, 8h or 1h30m.",
    },
    "schedule.limits_reveal": {"zh": "需要 1 分钟到 23 小时之间", "en": "it must be from 1 minute to 23 hours"},
    "schedule.limits_remind": {
        "zh": "需要至少 1 分钟，并且短于揭晓前的作答时间",
        "en": "it must be at least 1 minute and shorter than the answer window",
    },
    "schedule.reveal_at_same": {
        "zh": "--reveal-at 不能和发题时间 {at} 相同，例如：schedule daily 09:00 --reveal-at 17:00",
        "en": "--reveal-at cannot be the posting time {at}; for example: schedule daily 09:00 --reveal-at 17:00",
    },
    "schedule.reveal_choice": {
        "zh": "--reveal-after 和 --reveal-at 只能选一个，例如：schedule daily 09:00 --reveal-after 8h",
        "en": "Use either --reveal-after or --reveal-at, not both; for example: schedule daily 09:00 --reveal-after 8h",
    },
    "schedule.title": {"zh": "每日一题", "en": "Daily question"},
    "schedule.set": {"zh": "每日一题已设置。", "en": "The daily question is set."},
    "schedule.paused": {
        "zh": "每日一题已暂停，用 schedule resume 恢复。",
        "en": "The daily question is paused; schedule resume starts it again.",
    },
    "schedule.resumed": {"zh": "每日一题已恢复。", "en": "The daily question is back on."},
    "schedule.days_daily": {"zh": "每天", "en": "every day"},
    "schedule.days_weekdays": {"zh": "工作日（周一至周五）", "en": "weekdays (Monday to Friday)"},
    "schedule.when": {"zh": "时间", "en": "When"},
    "schedule.when_value": {"zh": "{days} {at}（{zone}）", "en": "{days} at {at} ({zone})"},
    "schedule.next": {"zh": "下一次", "en": "Next"},
    "schedule.next_none": {"zh": "已暂停", "en": "paused"},
    "schedule.scope": {"zh": "范围", "en": "Scope"},
    "schedule.scope_all": {"zh": "全部题目", "en": "all questions"},
    "schedule.reveal": {"zh": "揭晓", "en": "Reveal"},
    "schedule.reveal_after_value": {"zh": "发题后 {duration}", "en": "{duration} after posting"},
    "schedule.reveal_at_value": {"zh": "当地时间 {at}", "en": "at {at} local time"},
    "schedule.remind": {"zh": "提醒", "en": "Reminder"},
    "schedule.remind_value": {"zh": "揭晓前 {duration}", "en": "{duration} before the reveal"},
    "schedule.remind_default": {"zh": "按频道设置", "en": "as the channel's settings"},
    "schedule.rising": {"zh": "难度", "en": "Difficulty"},
    "schedule.rising_on": {"zh": "一周内由易到难", "en": "rising across the week"},
    "schedule.rising_off": {"zh": "不限", "en": "any"},
    "schedule.state": {"zh": "状态", "en": "State"},
    "schedule.state_active": {"zh": "运行中", "en": "active"},
    "schedule.state_paused": {"zh": "已暂停", "en": "paused"},
    "forget.confirm": {
        "zh": "这会删除你在本平台的全部回答、得分和复习记录，无法恢复。确认请发送：forget-me confirm",
        "en": "This deletes all your replies, scores and reviews on this platform, for good. "
        "To confirm, send: forget-me confirm",
    },
    "forget.done": {"zh": "已删除你的数据（{answers} 条回答）。", "en": "Your data is deleted ({answers} replies)."},
    "forget.nothing": {"zh": "没有你的数据。", "en": "There is no data of yours."},
    # drills
    "drill.started_in_channel": {
        "zh": "{name} 开始了一次模拟面试，题目已通过私信发送。",
        "en": "{name} started a mock interview; the questions are in your direct messages.",
    },
    "drill.already_active": {
        "zh": "你已经有一场进行中的练习（第 {position}/{total} 题）。用 drill status 查看，drill stop 结束。",
        "en": "You already have a drill in progress (question {position} of {total}). "
        "Use drill status to see it or drill stop to end it.",
    },
    "drill.none_active": {
        "zh": "你现在没有进行中的练习；用 drill 开始一场。",
        "en": "You have no drill in progress; start one with drill.",
    },
    "drill.nothing_due": {
        "zh": "目前没有到期需要复习的题目。下一次复习：{next}。",
        "en": "Nothing is due for review yet. Next review: {next}.",
    },
    "drill.nothing_due_never": {
        "zh": "还没有复习记录。先做一场练习吧（drill）。",
        "en": "No reviews yet. Do a drill first (drill).",
    },
    "drill.question_title": {"zh": "第 {index}/{total} 题 · {qid}", "en": "Question {index} of {total} · {qid}"},
    "drill.probe_title": {"zh": "追问 · {qid}", "en": "Follow-up · {qid}"},
    "drill.how_to_answer": {
        "zh": "回答可以分多条（多行）写，写完后输入 done（或“好了”/“完成”）提交；输入 skip 跳过。限时 {minutes} 分钟。",
        "en": "Answer in one or more messages or lines, then type done to submit, or skip to move on. "
        "Time limit: {minutes} min.",
    },
    "drill.built_probe": {
        "zh": "追问：你的回答还没有谈到一个重要方面。{hint}请补充说明。",
        "en": "Follow-up: your answer left out an important aspect. {hint} Can you expand on it?",
    },
    "drill.built_probe_topic": {
        "zh": "追问：还有一个关键点没谈到，和“{topic}”有关。请展开讲讲。",
        "en": "Follow-up: a key point is still missing; it has to do with “{topic}”. Can you explain it?",
    },
    "drill.nothing_to_submit": {
        "zh": "还没有收到这道题的回答。先写回答，再输入 done。",
        "en": "No answer received for this question yet. Write your answer, then type done.",
    },
    "drill.received": {"zh": "已记录。写完后输入 done 提交。", "en": "Noted. Type done when you have finished."},
    "drill.score": {"zh": "得分：{score}/100", "en": "Score: {score}/100"},
    "drill.late": {"zh": "（超时提交，已标记）", "en": "(submitted after the time limit; marked late)"},
    "drill.time_up_moved_on": {
        "zh": "时间到，{qid} 记为未作答，进入下一题。",
        "en": "Time is up: {qid} is marked unanswered; moving on.",
    },
    "drill.time_up_accept_late": {
        "zh": "时间到。你仍然可以提交，回答会被标记为超时。",
        "en": "Time is up. You can still submit; the reply will be marked late.",
    },
    "review.due": {
        "zh": "到期需要复习的题目共 {count} 道（括号内为已逾期时长）：{list}",
        "en": "{count} question{s} due for review (overdue by): {list}",
    },
    "drill.dm_closed": {
        "zh": "无法给你发私信，练习没有开始。请在隐私设置中允许服务器成员给你发私信，然后再试一次。",
        "en": "I can't send you a direct message, so the drill did not start. Allow direct messages from "
        "server members in your privacy settings, then try again.",
    },
    "drill.paused": {
        "zh": "连续两道题没有作答，练习先暂停。发任意消息继续，或发送 drill stop 结束；24 小时无动静会自动结束。",
        "en": "Two questions in a row went unanswered, so the drill is paused. Send any message to continue or "
        "drill stop to end it; it ends by itself after 24 hours.",
    },
    "drill.resumed": {"zh": "欢迎回来，继续练习。", "en": "Welcome back; the drill continues."},
    "drill.skipped": {"zh": "已跳过 {qid}。", "en": "Skipped {qid}."},
    "drill.skipped_follow_up": {
        "zh": "已跳过这道追问；{qid} 按你已有的回答计分。",
        "en": "Skipped the follow-up; {qid} is scored on what you already answered.",
    },
    "drill.covered": {"zh": "答到的要点", "en": "Covered"},
    "drill.missed": {"zh": "遗漏的要点", "en": "Missed"},
    "drill.missed_withheld": {
        "zh": "还有 {count} 个要点没有答到。先回答下面的追问；本次练习结束时的成绩单会列出所有遗漏的要点。",
        "en": "{count} key point{s} still missing. Answer the follow-up below first; the report at the end of the "
        "drill lists every point you missed.",
    },
    "drill.contradicted": {"zh": "说反了的要点", "en": "Contradicted"},
    "drill.partial": {"zh": "部分答到", "en": "Partly covered"},
    "drill.hint": {"zh": "提示", "en": "Hint"},
    "drill.self_rate": {
        "zh": "对照参考答案给自己打分：again（没答上）/ hard（勉强）/ good（答得不错）/ easy（很轻松）",
        "en": "Rate yourself against the reference: again / hard / good / easy",
    },
    "drill.reference": {"zh": "参考答案", "en": "Reference answer"},
    "drill.status": {
        "zh": "练习 #{drill}：第 {position}/{total} 题（{qid}），还剩 {left}。",
        "en": "Drill #{drill}: question {position} of {total} ({qid}), {left} left.",
    },
    "drill.status_rating": {
        "zh": "练习 #{drill}：第 {position}/{total} 题（{qid}）已作答，等你对照参考答案自评。",
        "en": "Drill #{drill}: question {position} of {total} ({qid}) is answered and waits for your rating.",
    },
    "drill.stopped": {"zh": "练习已结束。", "en": "Drill ended."},
    "drill.expired": {
        "zh": "练习 24 小时没有动静，已自动结束。以下是部分成绩单。",
        "en": "Your drill was idle for 24 hours and has ended. Here is the partial report.",
    },
    "report.title": {"zh": "练习成绩单 #{drill}", "en": "Drill report #{drill}"},
    "report.overall": {
        "zh": "总分：{score}/100（{answered}/{total} 题作答）",
        "en": "Overall: {score}/100 ({answered} of {total} answered)",
    },
    "report.ended_early": {
        "zh": "练习提前结束：计划 {planned} 题，问到了 {asked} 题；没问到的题不计分。",
        "en": "The drill ended early: {asked} of {planned} planned questions were asked; the rest are not counted.",
    },
    "report.overall_unscored": {
        "zh": "自评练习，没有自动评分（{answered}/{total} 题作答）",
        "en": "Self-rated drill, no automatic score ({answered} of {total} answered)",
    },
    "report.line": {
        "zh": "{qid} · {score} 分 · 用时 {time}{probes}{state}",
        "en": "{qid} · {score} · {time}{probes}{state}",
    },
    "report.line_rated": {
        "zh": "{qid} · 自评：{rating} · 用时 {time}{probes}{state}",
        "en": "{qid} · rated {rating} · {time}{probes}{state}",
    },
    "rating.again": {"zh": "没答上", "en": "again"},
    "rating.hard": {"zh": "勉强", "en": "hard"},
    "rating.good": {"zh": "不错", "en": "good"},
    "rating.easy": {"zh": "轻松", "en": "easy"},
    "report.probes": {"zh": " · 追问 {count} 次", "en": " · {count} follow-up{s}"},
    "report.by_tag": {"zh": "按主题", "en": "By topic"},
    "report.strongest": {"zh": "最强：{tags}", "en": "Strongest: {tags}"},
    "report.weakest": {"zh": "最弱：{tags}", "en": "Weakest: {tags}"},
    "report.reviews": {"zh": "复习安排", "en": "Coming up for review"},
    "report.review_line": {"zh": "{qid}：{when}", "en": "{qid}: {when}"},
    "report.answers_hint": {
        "zh": "用 {command} 查看参考答案。",
        "en": "Use {command} to see the reference answers.",
    },
    "report.none": {"zh": "还没有完成的练习。", "en": "No finished drill yet."},
    "report.not_found": {"zh": "找不到练习 #{drill}。", "en": "No drill #{drill} of yours."},
    "state.unanswered": {"zh": "未作答", "en": "unanswered"},
    "state.skipped": {"zh": "已跳过", "en": "skipped"},
    "state.late": {"zh": "超时", "en": "late"},
    "state.pending": {"zh": "未开始", "en": "not reached"},
    "state.unrated": {"zh": "未自评", "en": "not rated"},
    # console
    "console.welcome": {
        "zh": "模拟面试开始：{count} 道题，每题 {minutes} 分钟。回答可以多行，以空行或 done 结束；"
        "Ctrl-C 随时退出（已答内容会保存）。",
        "en": "Mock interview: {count} question{s}, {minutes} min each. Multi-line answers end with an empty line "
        "or done; Ctrl-C leaves at any time (what you answered is saved).",
    },
    "console.resumed_lines": {
        "zh": "这道题你之前已写了 {count} 行（已保存）；可以接着写，空行或 done 提交。",
        "en": "You had written {count} line{s} for this question (saved); go on, or send an empty line or done "
        "to submit.",
    },
    "console.welcome_review": {
        "zh": "复习开始：{count} 道到期的题，每题 {minutes} 分钟。回答可以多行，以空行或 done 结束；"
        "Ctrl-C 随时退出（已答内容会保存）。",
        "en": "Review: {count} question{s} due, {minutes} min each. Multi-line answers end with an empty line "
        "or done; Ctrl-C leaves at any time (what you answered is saved).",
    },
    "console.resuming": {
        "zh": "继续上次未完成的练习 #{drill}（已完成 {done}/{total}）。用 --new 重新开始。",
        "en": "Resuming your unfinished drill #{drill} ({done} of {total} done). Use --new to start over.",
    },
    "console.no_resume": {"zh": "没有可以继续的练习。", "en": "There is no unfinished drill to resume."},
    "console.interrupted": {
        "zh": "已退出。已提交的回答都已保存；用 interview-bot drill --resume 继续。",
        "en": "Stopped. Every submitted reply is saved; continue with interview-bot drill --resume.",
    },
    "console.eof": {"zh": "输入结束。", "en": "End of input."},
    "console.summary": {"zh": "小结", "en": "Summary"},
    "console.col_question": {"zh": "题目", "en": "Question"},
    "console.col_time": {"zh": "用时", "en": "Time"},
    "console.col_result": {"zh": "结果", "en": "Result"},
    "console.rate_prompt": {
        "zh": "你的自评 [again 没答上 / hard 勉强 / good 不错 / easy 轻松]：",
        "en": "Your rating [again/hard/good/easy]: ",
    },
    "console.rate_invalid": {
        "zh": "请输入 again（没答上）、hard（勉强）、good（不错）或 easy（轻松）。",
        "en": "Please type again, hard, good or easy.",
    },
    "console.time_left": {"zh": "剩余 {left}", "en": "{left} left"},
    "console.over_time": {"zh": "已超时", "en": "over time"},
    "console.storage_failed": {
        "zh": "无法写入数据库 {db}：{error}。之前保存的回答都还在；处理好之后（比如腾出磁盘空间）用 "
        "interview-bot drill --resume 继续。",
        "en": "Could not write to the database {db}: {error}. Everything saved before is kept; once that is "
        "fixed (free disk space, for instance), continue with interview-bot drill --resume.",
    },
    "console.not_saved": {
        "zh": "这一行没有保存，需要时请复制：{text}",
        "en": "This line was not saved; copy it if you need it: {text}",
    },
    "console.line_cut": {
        "zh": "这一行有 {bytes} 字节，终端最多只传 4095 字节，多出的部分可能已被终端截掉。较长的回答请分几行粘贴。",
        "en": "That line is {bytes} bytes, the most a terminal passes on: the rest may have been cut by the "
        "terminal. Paste long answers in several lines.",
    },
    "console.moved_elsewhere": {
        "zh": "这个练习已在另一个终端里继续（或已结束），刚才输入的内容没有保存。"
        "请回到那个终端，或在这里运行 interview-bot drill --resume。",
        "en": "This drill was continued (or ended) in another terminal, so what you just typed was not saved. "
        "Go back to that terminal, or run interview-bot drill --resume here.",
    },
    # `interview-bot bank show`: the labels around a question's own texts
    "bank.header": {
        "zh": "{qid} · {section} · 难度 {difficulty} · {tags}",
        "en": "{qid} · {section} · difficulty {difficulty} · {tags}",
    },
    "bank.aliases": {"zh": "同题编号：{ids}", "en": "also: {ids}"},
    "bank.hint": {"zh": "提示：{hint}", "en": "Hint: {hint}"},
    "bank.reference": {"zh": "参考答案：", "en": "Reference answer:"},
    "bank.key_points": {"zh": "要点：", "en": "Key points:"},
    "bank.kp_probe": {"zh": "没答到时追问：{probe}", "en": "if missed, ask: {probe}"},
    "bank.follow_ups": {"zh": "追问：", "en": "follow-ups:"},
    "bank.related": {"zh": "相关题目：{ids}", "en": "related: {ids}"},
}


# The bank's tags are English identifiers; Chinese readers see these names.  A tag missing here (a team's
# own bank) shows as it is.
TAG_NAMES_ZH: dict[str, str] = {
    "architecture": "模型结构",
    "attention": "注意力",
    "bert": "BERT",
    "decoding": "解码",
    "efficiency": "效率",
    "embeddings": "嵌入",
    "ffn": "前馈网络",
    "generalization": "泛化",
    "gpt": "GPT",
    "loss": "损失函数",
    "masking": "掩码",
    "multilingual": "多语言",
    "normalization": "归一化",
    "optimization": "优化",
    "positional-encoding": "位置编码",
    "regularization": "正则化",
    "representation": "表示",
    "tokenization": "分词",
    "training": "训练",
    "transfer": "迁移",
}


# English readers see names too: a tag id is written for `--tag` (`ffn`, `positional-encoding`), not for
# reading in a report.  tests/test_bank_cli_edges.py checks that every tag of the bank has both names.
TAG_NAMES_EN: dict[str, str] = {
    "architecture": "architecture",
    "attention": "attention",
    "bert": "BERT",
    "decoding": "decoding",
    "efficiency": "efficiency",
    "embeddings": "embeddings",
    "ffn": "feed-forward network",
    "generalization": "generalization",
    "gpt": "GPT",
    "loss": "loss function",
    "masking": "masking",
    "multilingual": "multilingual models",
    "normalization": "normalization",
    "optimization": "optimization",
    "positional-encoding": "positional encoding",
    "regularization": "regularization",
    "representation": "representation",
    "tokenization": "tokenization",
    "training": "training",
    "transfer": "transfer learning",
}


def tag_name(tag: str, lang: str) -> str:
    """A topic tag as a reader of `lang` sees it; a tag with no name (a team bank's own) shows as it is."""
    return (TAG_NAMES_ZH if lang == "zh" else TAG_NAMES_EN).get(tag, tag)


def t(key: str, lang: str, **params: Any) -> str:
    """The message `key` in `lang` (falling back to Chinese), formatted with `params`."""
    entry = MESSAGES[key]
    template = entry.get(lang) or entry["zh"]
    if isinstance(params.get("count"), int) and "s" not in params:
        params["s"] = "" if params["count"] == 1 else "s"  # "1 question", "3 questions" (Chinese ignores it)
    return template.format(**params) if params else template


def format_duration(seconds: float, lang: str) -> str:
    """'4:05' style for short spans, '2 h 5 min' / '2 小时 5 分' for long ones."""
    seconds = max(0, round(seconds))
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours >= 48:
        days = hours // 24
        return f"{days} 天" if lang == "zh" else f"{days} days"
    return f"{hours} 小时 {minutes} 分" if lang == "zh" else f"{hours} h {minutes} min"
