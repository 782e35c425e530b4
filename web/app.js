// recoflow web page: the job form, the recent-jobs list and the result sets with their versions. Dependency-free; the API is the
// judge of a form (its problems, with the same codes and messages, are shown beside each field).
"use strict";

const recoflow = (() => {
  const TEXT = {
    en: {
      title: "recoflow – new recommendation job",
      "jobs.title": "recoflow – recent jobs",
      "nav.jobs": "Recent jobs",
      "nav.new": "New job",
      "token.label": "Access token",
      "token.hint": "Ask the team that runs recoflow. It is kept in this browser tab only.",
      "token.save": "Use this token",
      "token.wrong": "The access token was refused. Enter it again.",
      "section.job": "The job",
      job_name: "Job name",
      "job_name.hint": "Lower-case letters, digits and single hyphens, 3 to 48 characters.",
      submitted_by: "Your e-mail",
      result_set: "Result set",
      "result_set.hint": "The name apps read the recommendations under.",
      backend: "Engine",
      "backend.personalize": "Amazon Personalize",
      "backend.container": "Our own model (SageMaker)",
      num_results: "Items per user",
      output: "What to make",
      "output.user_items": "Items for each customer",
      "output.audience": "Customers for products (an audience)",
      "output.similar_items": "Similar products for each product",
      priority: "When it has to wait for capacity",
      "priority.high": "Urgent: before normal jobs",
      "priority.normal": "Normal",
      "priority.low": "Can wait: after the others",
      "section.dataset": "Data files",
      "dataset.hint": "Choose a file of the data bucket, or type its s3:// address.",
      "dataset.interactions": "Interactions (who bought or clicked what)",
      "dataset.users": "Customers (with gender, age, region)",
      "dataset.items": "Products (optional)",
      "section.segment": "Who to recommend to",
      "segment.hint": "Leave empty for every customer.",
      "segment.gender": "Gender",
      "gender.F": "Women",
      "gender.M": "Men",
      "segment.age.min": "Age from",
      "segment.age.max": "Age to",
      "segment.region": "Regions",
      "list.hint": "Separate several with commas.",
      "segment.attributes": "Other columns of the customers file (one condition per line)",
      "segment.attributes.hint": "COLUMN in a, b · COLUMN not in a, b · COLUMN from 10 to 20 (either bound may be left out).",
      "section.audience": "The audience",
      "audience.items": "Products (item ids)",
      "audience.items.hint": "One audience per product. Or give a product filter instead.",
      "audience.item_filter": "Product filter (one COLUMN=values per line)",
      "audience.size": "Customers kept (the best first)",
      "audience.min_score": "Or: lowest score kept",
      "section.fallback": "Lists for new customers",
      "fallback.hint": "Customers the model never saw get the popular products of people like them. Leave empty for gender, age and region.",
      "fallback.attributes": "Columns (at most 4, most important first)",
      "fallback.min_users": "Customers a group needs",
      "fallback.bands": "Number columns by band (one COLUMN=lower bounds per line)",
      "personalize.recipe.default": "The output's usual recipe",
      "section.personalize": "Amazon Personalize",
      "personalize.recipe": "Recipe",
      "personalize.training_mode": "Training",
      "training_mode.FULL": "Full",
      "training_mode.UPDATE": "Update",
      "personalize.perform_hpo": "Tune hyper-parameters (costs about 15 trainings)",
      "section.container": "Our own model",
      "container.training_image": "Training image",
      "container.scoring_image": "Scoring image",
      "container.instance_type": "Machine type",
      "container.instance_count": "Machines",
      "container.max_runtime_seconds": "Longest run (seconds)",
      "container.network_isolation": "No network access for the containers (recommended)",
      "container.network_isolation_reason": "Why the containers need the network (when allowed)",
      "container.hyperparameters": "Settings (one name=value per line)",
      "section.quality": "Quality gate",
      "quality.hint": "Leave it empty for the default gate (at least one personal list, users not down by half, no banned item served).",
      "quality.metric": "Metric",
      "quality.min": "At least",
      "quality.max": "At most",
      "quality.max_change": "Largest change (0.2 = 20 %)",
      "quality.anomaly": "Hold a version whose metric leaves its usual band",
      "quality.history": "Versions the band learns from",
      "quality.on_fail": "When a version fails",
      "quality.on_fail.hold": "hold it (the current version keeps serving)",
      "quality.on_fail.fail": "fail the job",
      expect_refresh_hours: "Alert when no new version for (hours)",
      "section.more": "More",
      exclude_items: "Banned products (a file of item ids)",
      "notify.slack_channel": "Slack channel",
      "notify.on_success": "Also tell me when it succeeds",
      submit: "Start the job",
      "submit.problems": "The form has problems; nothing was started. See the fields marked in red.",
      "submit.unavailable": "recoflow could not be reached; nothing was lost, try again shortly.",
      "progress.title": "Your job",
      "progress.id": "Job id",
      "progress.status": "Now",
      "progress.since": "for",
      "progress.queue": "Place {position} of {waiting} in the queue for capacity ({holders} job(s) running in it); it starts the moment a place frees up.",
      "progress.failure": "Why it failed",
      "progress.try": "Try the recommendations for a customer",
      "progress.again": "Start another job",
      "jobs.job": "Job",
      "jobs.status": "Status",
      "jobs.since": "Since",
      "jobs.created": "Created",
      "jobs.by": "By",
      "jobs.more": "Older jobs",
      "jobs.none": "No jobs yet.",
      "jobs.actions": "Actions",
      "jobs.retry": "Retry",
      "jobs.cancel": "Cancel",
      "jobs.cancel_confirm": "Cancel job {id}? Its running AWS jobs are stopped.",
      "jobs.retried": "Job {id} retries {old}.",
      "jobs.retried_by": "retried by {id}",
      "jobs.cancelled": "Job {id} is cancelled.",
      "status.RECEIVED": "received", "status.QUEUED": "queued", "status.PREPARING": "checking data",
      "status.WAITING_FOR_QUOTA": "waiting for capacity", "status.IMPORTING": "importing data",
      "status.TRAINING": "training", "status.SCORING": "scoring", "status.DELIVERING": "publishing",
      "status.SUCCEEDED": "done", "status.FAILED": "failed", "status.REJECTED": "rejected",
      "status.CANCELLED": "cancelled",
      "status.HELD": "held back",
      "nav.result_sets": "Result sets",
      "nav.placements": "Placements",
      "pl.title": "recoflow – placements", "pl.name": "Placement", "pl.arms": "Arms", "pl.revision": "Revision",
      "pl.updated": "Changed", "pl.more": "More placements", "pl.none": "No placements yet: store one with PUT /placements/{placement} or recoflow placements apply.",
      "pl.split": "Arms and split", "pl.arm": "Arm", "pl.kind": "Kind", "pl.result_set": "Result set", "pl.share": "Share",
      "pl.kpis": "KPIs per arm", "pl.kpis.hint": "Each bar is the 95 % interval, the mark the value; an A/B arm shows its difference against the first arm and its always-valid p-value.",
      "pl.impressions": "Impressions", "pl.versus": "Against the first arm (CTR)", "pl.daily": "CTR per day",
      "pl.changed": "Revision {r}, changed by {by} at {at}", "pl.significant": "significant", "pl.not_significant": "not significant yet",
      "pl.preference": "Preference for {arm}: {share} (wins {b} to {a}), p = {p}",
      "pl.alerts": "Open alerts", "pl.alerts.none": "No open alerts.",
      "pl.alerts.hint": "KPIs outside their usual range for the weekday (the daily check, when monitoring is enabled); an alert closes when its KPI is back inside.",
      "pl.alert": "{day}: {kpi} {value}, {side} its usual {low} – {high}. Triage: {triage} ({reason})",
      "pl.alert.below": "below", "pl.alert.above": "above",
      "triage.data": "data", "triage.model": "model", "triage.configuration": "configuration", "triage.unclear": "unclear",
      "kind.rule": "rule", "kind.ab": "A/B", "kind.interleaving": "interleaving", "kind.default": "default",
      "kpi.impressions": "Impressions", "kpi.ctr": "CTR", "kpi.add_to_cart_rate": "Add-to-cart rate", "kpi.cvr": "CVR", "kpi.revenue_per_impression": "Revenue per impression",
      "nav.schedules": "Schedules",
      "section.schedule": "Repeat (optional)",
      "schedule.hint": "Fill in \"when\" to make this form a schedule: each run starts a job from it. Leave it empty to start one job now.",
      "schedule.expression": "When",
      "schedule.timezone": "Time zone",
      "schedule.start": "First run not before",
      "schedule.end": "No run after",
      "schedule.overlap": "If the last run is still going",
      "schedule.overlap.skip": "skip this run",
      "schedule.overlap.queue": "run it afterwards",
      "scheduled.title": "Your schedule",
      "scheduled.id": "Schedule id",
      "scheduled.next": "Next runs (your time):",
      "scheduled.all": "All schedules: pause, resume",
      "section.trigger": "On new data (optional)",
      "trigger.hint": "Tick the box to make this form a trigger: a job starts from it whenever every data file has been uploaded again and none for the quiet time. Not with Repeat.",
      "trigger.on_new_data": "Start a job when new data arrives",
      "trigger.quiet_seconds": "Quiet time before starting (seconds)",
      "force": "Run scheduled or triggered jobs even when the form and data have not changed since the last success",
      "triggered.title": "Your trigger",
      "triggered.id": "Trigger id",
      "triggered.next": "A job starts once every data file has been uploaded again.",
      "sch.title": "recoflow – schedules",
      "sch.zone": "Times are in your time zone",
      "sch.name": "Schedule", "sch.when": "When", "sch.state": "State", "sch.next": "Next run", "sch.last": "Last run",
      "sch.more": "More schedules", "sch.none": "No schedules yet. Fill in \"Repeat\" on the job form to make one.",
      "sch.pause": "Pause", "sch.resume": "Resume",
      "sch.done.PAUSED": "Schedule {s} paused: it starts no more jobs until resumed.",
      "sch.done.ENABLED": "Schedule {s} resumed.",
      "sch.state.ENABLED": "running", "sch.state.PAUSED": "paused",
      "sch.outcome.STARTED": "started", "sch.outcome.QUEUED": "waiting", "sch.outcome.SKIPPED": "skipped",
      "status.SKIPPED": "skipped",
      "rs.title": "recoflow – result sets",
      "rs.name": "Result set",
      "rs.current": "Serving",
      "rs.age": "Age",
      "rs.last_job": "Last job",
      "rs.none": "No result sets yet.",
      "rs.more": "More result sets",
      "rs.nothing": "nothing yet",
      "rs.versions": "Versions",
      "rs.version": "Version",
      "rs.state": "State",
      "rs.job": "Job",
      "rs.published": "Published",
      "rs.gate": "Gate",
      "rs.promoted": "Promoted",
      "rs.rollback": "Roll back",
      "rs.promote": "Promote",
      "rs.discard": "Discard",
      "rs.reason": "Why promote this version?",
      "rs.confirm": "Promote",
      "rs.cancel": "Cancel",
      "rs.reason_required": "Say why the version is promoted.",
      "rs.done.promote": "Version {v} is serving now.",
      "rs.done.rollback": "Rolled back: version {v} is serving now.",
      "rs.done.discard": "Version {v} was discarded.",
      "rs.answers": "Answers in the last hour",
      "rs.charts": "Metrics across versions",
      "rs.charts.hint": "Oldest on the left; the version serving now is filled, held ones are drawn in red.",
      "aud.title": "Audiences", "aud.for": "For", "aud.size": "Users", "aud.breakdown": "By segment",
      "aud.users": "Users", "aud.user": "User", "aud.score": "Score", "aud.attributes": "Attributes",
      "aud.more": "More users", "aud.item": "item {i}", "aud.filter": "items with {f}",
      "aud.summary": "{n} users in {a} audience(s) of version {v}, made {t}.",
      "aud.failed": "not made: {e}",
      "sim.title": "Similar items", "sim.item": "Item id", "sim.show": "Show similar items",
      "sim.from": "From {s}, version {v}.", "sim.none": "No items to show.",
      "sim.source.similar": "the item's similar items", "sim.source.category": "its category's popular items",
      "sim.source.global": "the popular items",
      "gate.passed": "passed", "gate.failed": "failed",
      "state.CURRENT": "serving", "state.HELD": "held back", "state.SUPERSEDED": "replaced",
      "state.DISCARDED": "discarded", "state.EXPIRED": "expired",
      "source.personalized": "personalized", "source.segment": "segment", "source.global": "global",
      "metric.users_personalized": "Users with a personal list", "metric.catalog_coverage": "Catalogue coverage",
      "metric.top1pct_share": "Share of the top 1 % of items", "metric.mean_list_length": "Mean list length",
      "metric.short_lists_share": "Share of short lists", "metric.segments_published": "Segments published",
      "metric.overlap_at_k": "Overlap with the version before", "metric.banned_served": "Banned items served",
      "metric.score_p50": "Median score", "metric.score_p99": "99th percentile score",
    },
    ja: {
      title: "recoflow – 新しいレコメンドジョブ",
      "jobs.title": "recoflow – 最近のジョブ",
      "nav.jobs": "最近のジョブ",
      "nav.new": "新しいジョブ",
      "token.label": "アクセストークン",
      "token.hint": "recoflow の運用チームにお問い合わせください。このタブの中だけに保存されます。",
      "token.save": "このトークンを使う",
      "token.wrong": "アクセストークンが拒否されました。もう一度入力してください。",
      "section.job": "ジョブ",
      job_name: "ジョブ名",
      "job_name.hint": "英小文字・数字・ハイフン（連続不可）で 3〜48 文字。",
      submitted_by: "メールアドレス",
      result_set: "結果セット名",
      "result_set.hint": "アプリがレコメンドを読み出すときの名前です。",
      backend: "エンジン",
      "backend.personalize": "Amazon Personalize",
      "backend.container": "自社モデル（SageMaker）",
      num_results: "1 人あたりの商品数",
      output: "作るもの",
      "output.user_items": "顧客ごとのおすすめ商品",
      "output.audience": "商品に合う顧客（オーディエンス）",
      "output.similar_items": "商品ごとの類似商品",
      priority: "空き待ちのときの順番",
      "priority.high": "急ぎ（通常より先）",
      "priority.normal": "通常",
      "priority.low": "後回しでよい",
      "section.dataset": "データファイル",
      "dataset.hint": "データバケットのファイルを選ぶか、s3:// のアドレスを入力してください。",
      "dataset.interactions": "行動履歴（誰が何を買った・見たか）",
      "dataset.users": "顧客（性別・年齢・地域つき）",
      "dataset.items": "商品（任意）",
      "section.segment": "対象の顧客",
      "segment.hint": "空欄なら全顧客が対象です。",
      "segment.gender": "性別",
      "gender.F": "女性",
      "gender.M": "男性",
      "segment.age.min": "年齢（から）",
      "segment.age.max": "年齢（まで）",
      "segment.region": "地域",
      "list.hint": "複数の場合はカンマで区切ってください。",
      "segment.attributes": "顧客ファイルのその他の列（1 行に 1 条件）",
      "segment.attributes.hint": "列名 in a, b ・ 列名 not in a, b ・ 列名 from 10 to 20（片方の境界は省略できます）。",
      "section.audience": "オーディエンス",
      "audience.items": "商品（商品 ID）",
      "audience.items.hint": "商品ごとに 1 つのオーディエンスを作ります。代わりに商品の条件も指定できます。",
      "audience.item_filter": "商品の条件（1 行に 列名=値）",
      "audience.size": "残す顧客数（スコアの高い順）",
      "audience.min_score": "または：残す最低スコア",
      "section.fallback": "新しい顧客向けのリスト",
      "fallback.hint": "モデルが知らない顧客には、似た顧客に人気の商品を出します。空欄なら性別・年齢・地域です。",
      "fallback.attributes": "列（最大 4 つ、重要な順）",
      "fallback.min_users": "グループに必要な顧客数",
      "fallback.bands": "数値の列の区切り（1 行に 列名=下限の並び）",
      "personalize.recipe.default": "作るものに合う既定のレシピ",
      "section.personalize": "Amazon Personalize",
      "personalize.recipe": "レシピ",
      "personalize.training_mode": "学習",
      "training_mode.FULL": "全体",
      "training_mode.UPDATE": "差分",
      "personalize.perform_hpo": "ハイパーパラメータを調整する（学習約 15 回分の費用）",
      "section.container": "自社モデル",
      "container.training_image": "学習イメージ",
      "container.scoring_image": "推論イメージ",
      "container.instance_type": "マシンの種類",
      "container.instance_count": "マシン台数",
      "container.max_runtime_seconds": "最長実行時間（秒）",
      "container.network_isolation": "コンテナをネットワークから切り離す（推奨）",
      "container.network_isolation_reason": "ネットワークが必要な理由（許可する場合）",
      "container.hyperparameters": "設定（1 行に 名前=値）",
      "section.quality": "品質ゲート",
      "quality.hint": "空欄なら既定のゲート（個人リストが 1 件以上、ユーザー数が半減していない、禁止商品を出さない）が使われます。",
      "quality.metric": "指標",
      "quality.min": "下限",
      "quality.max": "上限",
      "quality.max_change": "最大変化率（0.2 = 20 %）",
      "quality.anomaly": "指標がいつもの範囲を外れたバージョンを保留する",
      "quality.history": "範囲を学ぶバージョン数",
      "quality.on_fail": "ゲートに通らなかったとき",
      "quality.on_fail.hold": "保留する（現行バージョンが配信を続ける）",
      "quality.on_fail.fail": "ジョブを失敗にする",
      expect_refresh_hours: "新しいバージョンがないとき警告するまでの時間（時間）",
      "section.more": "その他",
      exclude_items: "除外商品（商品 ID のファイル）",
      "notify.slack_channel": "Slack チャンネル",
      "notify.on_success": "成功したときも通知する",
      submit: "ジョブを開始",
      "submit.problems": "フォームに問題があります。何も開始していません。赤い項目を確認してください。",
      "submit.unavailable": "recoflow に接続できませんでした。データは失われていません。少ししてから再度お試しください。",
      "progress.title": "ジョブの状況",
      "progress.id": "ジョブ ID",
      "progress.status": "現在",
      "progress.since": "経過",
      "progress.queue": "空き待ちの列で {waiting} 件中 {position} 番目（実行中 {holders} 件）。空きが出ればすぐに始まります。",
      "progress.failure": "失敗の理由",
      "progress.try": "顧客向けのレコメンドを試す",
      "progress.again": "別のジョブを開始",
      "jobs.job": "ジョブ",
      "jobs.status": "状態",
      "jobs.since": "経過",
      "jobs.created": "作成",
      "jobs.by": "依頼者",
      "jobs.more": "さらに古いジョブ",
      "jobs.none": "ジョブはまだありません。",
      "jobs.actions": "操作",
      "jobs.retry": "再実行",
      "jobs.cancel": "キャンセル",
      "jobs.cancel_confirm": "ジョブ {id} をキャンセルしますか？実行中の AWS のジョブは停止されます。",
      "jobs.retried": "ジョブ {id} が {old} を再実行します。",
      "jobs.retried_by": "{id} で再実行済み",
      "jobs.cancelled": "ジョブ {id} はキャンセルされました。",
      "status.RECEIVED": "受付", "status.QUEUED": "待機中", "status.PREPARING": "データ確認中",
      "status.WAITING_FOR_QUOTA": "空き待ち", "status.IMPORTING": "データ取り込み中",
      "status.TRAINING": "学習中", "status.SCORING": "推論中", "status.DELIVERING": "公開中",
      "status.SUCCEEDED": "完了", "status.FAILED": "失敗", "status.REJECTED": "却下",
      "status.CANCELLED": "取り消し",
      "status.HELD": "保留",
      "nav.result_sets": "結果セット",
      "nav.placements": "配信枠",
      "pl.title": "recoflow – 配信枠", "pl.name": "配信枠", "pl.arms": "アーム", "pl.revision": "版",
      "pl.updated": "変更", "pl.more": "さらに表示", "pl.none": "配信枠はまだありません。PUT /placements/{placement} か recoflow placements apply で登録してください。",
      "pl.split": "アームと配分", "pl.arm": "アーム", "pl.kind": "種類", "pl.result_set": "結果セット", "pl.share": "配分",
      "pl.kpis": "アームごとの KPI", "pl.kpis.hint": "棒は 95 % 区間、印は値です。A/B のアームには最初のアームとの差と常時有効な p 値を示します。",
      "pl.impressions": "表示回数", "pl.versus": "最初のアームとの差 (CTR)", "pl.daily": "日ごとの CTR",
      "pl.changed": "版 {r}、{by} が {at} に変更", "pl.significant": "有意", "pl.not_significant": "まだ有意ではありません",
      "pl.preference": "{arm} の選好率: {share} (勝ち {b} 対 {a})、p = {p}",
      "pl.alerts": "未解決のアラート", "pl.alerts.none": "未解決のアラートはありません。",
      "pl.alerts.hint": "曜日ごとの通常範囲を外れた KPI です (監視が有効な配信枠の日次チェック)。KPI が範囲内に戻るとアラートは閉じます。",
      "pl.alert": "{day}: {kpi} が {value} で、通常範囲 {low} – {high} を{side}。切り分け: {triage} ({reason})",
      "pl.alert.below": "下回りました", "pl.alert.above": "上回りました",
      "triage.data": "データ", "triage.model": "モデル", "triage.configuration": "設定", "triage.unclear": "不明",
      "kind.rule": "ルール", "kind.ab": "A/B", "kind.interleaving": "インターリービング", "kind.default": "既定",
      "kpi.impressions": "表示回数", "kpi.ctr": "クリック率", "kpi.add_to_cart_rate": "カート追加率", "kpi.cvr": "購入率", "kpi.revenue_per_impression": "表示あたり売上",
      "nav.schedules": "スケジュール",
      "section.schedule": "繰り返し(任意)",
      "schedule.hint": "「実行時期」を入れるとこのフォームはスケジュールになり、実行のたびにジョブが始まります。空欄なら今すぐジョブを 1 つ始めます。",
      "schedule.expression": "実行時期",
      "schedule.timezone": "タイムゾーン",
      "schedule.start": "最初の実行はこれ以降",
      "schedule.end": "この時刻以降は実行しない",
      "schedule.overlap": "前回の実行がまだ終わっていないとき",
      "schedule.overlap.skip": "今回は実行しない",
      "schedule.overlap.queue": "終わってから実行する",
      "scheduled.title": "スケジュール",
      "scheduled.id": "スケジュール ID",
      "scheduled.next": "次回以降の実行(あなたの時刻):",
      "scheduled.all": "すべてのスケジュール(一時停止・再開)",
      "section.trigger": "新しいデータで実行(任意)",
      "trigger.hint": "チェックするとこのフォームはトリガーになり、すべてのデータファイルが再びアップロードされ、静止時間のあいだ書き込みがなければジョブが始まります。繰り返しとは併用できません。",
      "trigger.on_new_data": "新しいデータが届いたらジョブを始める",
      "trigger.quiet_seconds": "開始までの静止時間(秒)",
      "force": "フォームとデータが前回の成功から変わっていなくても、スケジュール・トリガーのジョブを実行する",
      "triggered.title": "トリガー",
      "triggered.id": "トリガー ID",
      "triggered.next": "すべてのデータファイルが再びアップロードされるとジョブが始まります。",
      "sch.title": "recoflow – スケジュール",
      "sch.zone": "時刻はあなたのタイムゾーンで表示しています",
      "sch.name": "スケジュール", "sch.when": "実行時期", "sch.state": "状態", "sch.next": "次回の実行", "sch.last": "前回の実行",
      "sch.more": "さらに表示", "sch.none": "スケジュールはまだありません。ジョブのフォームで「繰り返し」を入れると作れます。",
      "sch.pause": "一時停止", "sch.resume": "再開",
      "sch.done.PAUSED": "スケジュール {s} を一時停止しました。再開するまでジョブは始まりません。",
      "sch.done.ENABLED": "スケジュール {s} を再開しました。",
      "sch.state.ENABLED": "実行中", "sch.state.PAUSED": "一時停止中",
      "sch.outcome.STARTED": "開始", "sch.outcome.QUEUED": "待機中", "sch.outcome.SKIPPED": "スキップ",
      "status.SKIPPED": "スキップ",
      "rs.title": "recoflow – 結果セット",
      "rs.name": "結果セット",
      "rs.current": "配信中",
      "rs.age": "経過",
      "rs.last_job": "最後のジョブ",
      "rs.none": "結果セットはまだありません。",
      "rs.more": "さらに表示",
      "rs.nothing": "まだありません",
      "rs.versions": "バージョン",
      "rs.version": "バージョン",
      "rs.state": "状態",
      "rs.job": "ジョブ",
      "rs.published": "公開",
      "rs.gate": "品質ゲート",
      "rs.promoted": "昇格",
      "rs.rollback": "ロールバック",
      "rs.promote": "昇格する",
      "rs.discard": "破棄",
      "rs.reason": "このバージョンを昇格する理由",
      "rs.confirm": "昇格する",
      "rs.cancel": "キャンセル",
      "rs.reason_required": "昇格する理由を入力してください。",
      "rs.done.promote": "バージョン {v} を配信中にしました。",
      "rs.done.rollback": "ロールバックしました。バージョン {v} を配信中です。",
      "rs.done.discard": "バージョン {v} を破棄しました。",
      "rs.answers": "直近 1 時間の応答",
      "rs.charts": "バージョンごとの指標",
      "rs.charts.hint": "左が古いバージョンです。塗りつぶしの点が配信中、赤い点が保留中のバージョンです。",
      "aud.title": "オーディエンス", "aud.for": "対象", "aud.size": "ユーザー数", "aud.breakdown": "セグメント別",
      "aud.users": "ユーザー", "aud.user": "ユーザー", "aud.score": "スコア", "aud.attributes": "属性",
      "aud.more": "さらに表示", "aud.item": "商品 {i}", "aud.filter": "{f} の商品",
      "aud.summary": "バージョン {v} のオーディエンス {a} 件、計 {n} ユーザー（{t}作成）。",
      "aud.failed": "作成できませんでした: {e}",
      "sim.title": "類似商品", "sim.item": "商品 ID", "sim.show": "類似商品を表示",
      "sim.from": "{s}（バージョン {v}）", "sim.none": "表示できる商品はありません。",
      "sim.source.similar": "この商品の類似商品", "sim.source.category": "同じカテゴリの人気商品",
      "sim.source.global": "全体の人気商品",
      "gate.passed": "合格", "gate.failed": "不合格",
      "state.CURRENT": "配信中", "state.HELD": "保留", "state.SUPERSEDED": "置き換え済み",
      "state.DISCARDED": "破棄", "state.EXPIRED": "期限切れ",
      "source.personalized": "個人向け", "source.segment": "セグメント", "source.global": "全体",
      "metric.users_personalized": "個人リストのあるユーザー数", "metric.catalog_coverage": "カタログ網羅率",
      "metric.top1pct_share": "上位 1 % の商品の占有率", "metric.mean_list_length": "平均リスト長",
      "metric.short_lists_share": "短いリストの割合", "metric.segments_published": "公開セグメント数",
      "metric.overlap_at_k": "前バージョンとの重なり", "metric.banned_served": "禁止商品の配信数",
      "metric.score_p50": "スコア中央値", "metric.score_p99": "スコア 99 パーセンタイル",
    },
  };

  const state = { language: sessionStorage.getItem("recoflow.language") || (navigator.language || "en").slice(0, 2) };
  if (!TEXT[state.language]) state.language = "en";

  const t = (key) => (TEXT[state.language] && TEXT[state.language][key]) || TEXT.en[key] || key;

  function translate() {
    document.documentElement.lang = state.language;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    const title = document.querySelector("header h1");
    if (title) document.title = title.textContent;
    const chooser = document.getElementById("language");
    if (chooser) chooser.value = state.language;
  }

  function setupLanguage(onChange) {
    const chooser = document.getElementById("language");
    chooser.addEventListener("change", () => {
      state.language = chooser.value;
      sessionStorage.setItem("recoflow.language", state.language);
      translate();
      if (onChange) onChange();
    });
    translate();
  }

  // The API lives beside the page: <base>/ui/api/...
  function basePath() {
    const path = location.pathname.replace(/ui\/(jobs|result-sets|schedules|placements)\/?$/, "");
    return path.endsWith("/") ? path : path + "/";
  }

  function banner(kind, text) {
    const el = document.getElementById("banner");
    el.className = text ? kind : "hidden";
    el.textContent = text || "";
  }

  // --- the access token: asked once per tab, never AWS keys ---------------------------------
  function token() { return sessionStorage.getItem("recoflow.token") || ""; }

  function askToken(message) {
    const box = document.getElementById("token-box");
    box.classList.remove("hidden");
    if (message) banner("error", message);
    return new Promise((resolve) => {
      document.getElementById("token-save").onclick = () => {
        sessionStorage.setItem("recoflow.token", document.getElementById("token").value.trim());
        box.classList.add("hidden");
        banner();
        resolve();
      };
    });
  }

  async function api(method, path, body) {
    for (;;) {
      if (!token()) await askToken();
      const response = await fetch(basePath() + "ui/api/" + path, {
        method,
        headers: Object.assign({ authorization: "Bearer " + token() }, body ? { "content-type": "application/json" } : {}),
        body: body ? JSON.stringify(body) : undefined,
      });
      if (response.status === 401) {
        sessionStorage.removeItem("recoflow.token");
        await askToken(t("token.wrong"));
        continue;
      }
      let json = null;
      try { json = await response.json(); } catch (_) { /* not JSON */ }
      return { status: response.status, json };
    }
  }

  function since(at) {
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(at)) / 1000));
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
    return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
  }

  function statusText(status) { return t("status." + status) + " (" + status + ")"; }

  // --- the form ---------------------------------------------------------------------------------
  // Each control sits in an element with data-path (its JSON path in the form); the form's JSON
  // is built from them, and the API's problems are shown beside the element their path names.

  function put(target, path, value) {
    const keys = path.replace(/^\$\./, "").split(".");
    let node = target;
    keys.slice(0, -1).forEach((key) => { node = node[key] = node[key] || {}; });
    node[keys[keys.length - 1]] = value;
  }

  function valueOf(field) {
    const checkboxes = field.querySelectorAll(":scope > label > input[type=checkbox]");
    const radios = field.querySelectorAll(":scope > label > input[type=radio]");
    if (radios.length) { const on = [...radios].find((r) => r.checked); return on ? on.value : undefined; }
    if (checkboxes.length > 1) { const on = [...checkboxes].filter((c) => c.checked).map((c) => c.value); return on.length ? on : undefined; }
    if (checkboxes.length === 1) return checkboxes[0].checked;
    const control = field.matches("input") ? field : field.querySelector(":scope > input, :scope > select, :scope > textarea");
    if (!control) return undefined;
    const raw = control.value.trim();
    if (raw === "") return undefined;
    switch (control.dataset.type) {
      case "integer": return /^-?\d+$/.test(raw) ? Number(raw) : raw;
      case "number": return /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(raw) ? Number(raw) : raw;
      case "list": return raw.split(",").map((s) => s.trim()).filter(Boolean);
      case "map": return Object.fromEntries(lines(raw).map(nameAndValue));
      case "map-lists": return Object.fromEntries(lines(raw).map(nameAndValue).map(([name, value]) => [name, commaList(value)]));
      case "map-numbers": return Object.fromEntries(lines(raw).map(nameAndValue)
        .map(([name, value]) => [name, commaList(value).map((n) => (/^-?\d+$/.test(n) ? Number(n) : n))]));
      case "conditions": return Object.fromEntries(lines(raw).map(condition));
      default: return raw;
    }
  }

  function lines(raw) { return raw.split("\n").map((l) => l.trim()).filter(Boolean); }
  function commaList(raw) { return raw.split(",").map((s) => s.trim()).filter(Boolean); }
  function nameAndValue(line) {
    const i = line.indexOf("=");
    return i < 0 ? [line, ""] : [line.slice(0, i).trim(), line.slice(i + 1).trim()];
  }
  const asNumber = (raw) => (/^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw);

  // "PREFECTURE in a, b", "RANK not in trial", "POINTS from 100 to 500" (either bound may go).
  // A line of another shape is sent as it is, so the API says what is wrong with it.
  function condition(line) {
    const [column, rest] = [line.split(/\s+/)[0], line.slice(line.split(/\s+/)[0].length).trim()];
    let match;
    if ((match = rest.match(/^not\s+in\s+(.+)$/i))) return [column, { not_in: commaList(match[1]) }];
    if ((match = rest.match(/^in\s+(.+)$/i))) return [column, { in: commaList(match[1]) }];
    if ((match = rest.match(/^(?:from\s+(\S+))?\s*(?:to\s+(\S+))?$/i)) && (match[1] || match[2])) {
      const range = {};
      if (match[1]) range.min = asNumber(match[1]);
      if (match[2]) range.max = asNumber(match[2]);
      return [column, range];
    }
    return [column, rest];
  }

  // Whether an element (a field, a recipe) belongs to the chosen output.
  function forOutput(element, output) {
    const owner = element.closest("[data-outputs]");
    return !owner || owner.dataset.outputs.split(" ").includes(output);
  }

  function buildForm(form) {
    const backend = form.querySelector("input[name=backend]:checked").value;
    const output = form.querySelector("input[name=output]:checked").value;
    const result = {};
    form.querySelectorAll("[data-path]").forEach((field) => {
      const path = field.dataset.path;
      if (field.closest("[data-backend]") && field.closest("[data-backend]").dataset.backend !== backend) return;
      if (!forOutput(field, output)) return;
      if (field.querySelector("[data-path]") && !field.matches("input")) return; // a group, not a control
      const value = valueOf(field);
      if (value !== undefined && value !== false) put(result, path, value);
      if (path === "$.personalize.perform_hpo" && backend === "personalize") put(result, path, value === true);
      if (path === "$.container.network_isolation" && backend === "container") put(result, path, value === true);
    });
    if (backend === "personalize" && !result.personalize) result.personalize = {};
    // No "when": a one-off job (the zone and overlap choices alone make no schedule).
    if (result.schedule && !result.schedule.expression) delete result.schedule;
    // Unticked: no trigger (a quiet time alone makes none).
    if (result.trigger && !result.trigger.on_new_data) delete result.trigger;
    return result;
  }

  function clearProblems(form) {
    form.querySelectorAll(".problems").forEach((el) => { el.innerHTML = ""; });
    form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  }

  // The element a problem's path belongs to: the deepest data-path it starts with.
  function fieldFor(form, path) {
    const plain = path.replace(/\[[^\]]*\]/g, "");
    let best = form.querySelector('[data-path="$"]');
    form.querySelectorAll("[data-path]").forEach((el) => {
      const p = el.dataset.path;
      if (el.querySelector(":scope > .problems") && (plain === p || plain.startsWith(p + ".")) && p.length > best.dataset.path.length) best = el;
    });
    return best;
  }

  function showProblems(form, problems) {
    problems.forEach((problem) => {
      const field = fieldFor(form, problem.path);
      field.classList.add("invalid");
      const line = document.createElement("div");
      line.className = "problem";
      line.dataset.code = problem.code;
      line.textContent = problem.message + " ";
      const code = document.createElement("code");
      code.textContent = "(" + problem.code + ")";
      line.appendChild(code);
      field.querySelector(":scope > .problems").appendChild(line);
    });
  }

  function showBackend(form) {
    const backend = form.querySelector("input[name=backend]:checked").value;
    form.querySelectorAll("[data-backend]").forEach((el) => el.classList.toggle("hidden", el.dataset.backend !== backend));
  }

  // Shows the fields and recipes of the chosen output; a recipe of another output is unchosen.
  function showOutput(form) {
    const output = form.querySelector("input[name=output]:checked").value;
    form.querySelectorAll("[data-outputs]").forEach((el) => {
      const shown = forOutput(el, output);
      if (el.matches("option")) { el.hidden = !shown; el.disabled = !shown; } else el.classList.toggle("hidden", !shown);
    });
    const recipe = document.getElementById("recipe");
    if (recipe.selectedOptions[0] && recipe.selectedOptions[0].disabled) recipe.value = "";
  }

  async function loadDataFiles() {
    const { status, json } = await api("GET", "data-files");
    if (status !== 200 || !json) return;
    const list = document.getElementById("data-files");
    list.innerHTML = "";
    json.files.forEach((file) => {
      const option = document.createElement("option");
      option.value = file.uri;
      list.appendChild(option);
    });
  }

  // The job's status and history, in the chosen language (shown again when it changes).
  function showStatus(job) {
    state.job = job;
    const now = document.getElementById("job-status");
    now.textContent = statusText(job.status);
    now.className = "status " + job.status;
    document.getElementById("job-since").textContent = since(job.status_since);
    const queue = document.getElementById("job-queue");
    queue.classList.toggle("hidden", !job.quota_wait);
    if (job.quota_wait) {
      queue.textContent = t("progress.queue").replace("{position}", job.quota_wait.position)
        .replace("{waiting}", job.quota_wait.waiting).replace("{holders}", job.quota_wait.holders);
    }
    const history = document.getElementById("job-history");
    history.innerHTML = "";
    job.history.forEach((change) => {
      const item = document.createElement("li");
      item.textContent = new Date(change.at).toLocaleTimeString() + "  " + statusText(change.status) + (change.detail ? " – " + change.detail : "");
      history.appendChild(item);
    });
  }

  async function follow(jobId) {
    const progress = document.getElementById("progress");
    progress.classList.remove("hidden");
    document.getElementById("job-id").textContent = jobId;
    for (;;) {
      const { status, json: job } = await api("GET", "jobs/" + encodeURIComponent(jobId));
      if (status === 200 && job) {
        showStatus(job);
        if (job.failure) {
          document.getElementById("job-failure").classList.remove("hidden");
          document.getElementById("job-cause").textContent = job.failure.error + ": " + job.failure.cause;
        }
        if (job.status === "SUCCEEDED") {
          const link = document.getElementById("try-link");
          const user = job.form && job.form.result_set;
          link.href = basePath() + "ui/api/recommendations/" + encodeURIComponent(user) + "/example-user?n=10";
          link.onclick = async (event) => {
            event.preventDefault();
            const answer = await api("GET", "recommendations/" + encodeURIComponent(user) + "/example-user?n=10");
            const shown = document.getElementById("try-answer");
            shown.textContent = JSON.stringify(answer.json, null, 2);
            shown.classList.remove("hidden");
          };
          document.getElementById("job-done").classList.remove("hidden");
        }
        if (["SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"].includes(job.status)) return job;
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  function formPage() {
    const form = document.getElementById("job-form");
    document.querySelector('a[href="ui/jobs"]').href = basePath() + "ui/jobs";
    document.querySelector('a[href="ui/result-sets"]').href = basePath() + "ui/result-sets";
    document.querySelectorAll('a[href="ui/schedules"]').forEach((a) => { a.href = basePath() + "ui/schedules"; });
    const zone = document.getElementById("schedule_timezone");
    zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    setupLanguage(() => { if (state.job) showStatus(state.job); });
    showBackend(form);
    showOutput(form);
    form.querySelectorAll("input[name=backend]").forEach((r) => r.addEventListener("change", () => showBackend(form)));
    form.querySelectorAll("input[name=output]").forEach((r) => r.addEventListener("change", () => showOutput(form)));
    loadDataFiles();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearProblems(form);
      banner();
      const button = document.getElementById("submit");
      button.disabled = true;
      try {
        const { status, json } = await api("POST", "jobs", buildForm(form));
        if ((status === 201 || status === 200) && json.schedule_id) {
          form.classList.add("hidden");
          showScheduled(json);
        } else if ((status === 201 || status === 200) && json.trigger_id) {
          form.classList.add("hidden");
          document.getElementById("triggered").classList.remove("hidden");
          document.getElementById("trigger-id").textContent = json.trigger_id;
        } else if (status === 202 || status === 200) {
          form.classList.add("hidden");
          await follow(json.job_id);
        } else if (json && json.error && json.error.problems) {
          banner("error", t("submit.problems"));
          showProblems(form, json.error.problems);
        } else {
          banner("error", (json && json.error && json.error.message) || t("submit.unavailable"));
        }
      } catch (_) {
        banner("error", t("submit.unavailable"));
      } finally {
        button.disabled = false;
      }
    });
    document.getElementById("new-job").addEventListener("click", () => location.reload());
  }

  // A recurring form became a schedule: its id and next runs in the viewer's time.
  function showScheduled(answer) {
    document.getElementById("scheduled").classList.remove("hidden");
    document.getElementById("schedule-id").textContent = answer.schedule_id;
    const list = document.getElementById("schedule-next");
    list.innerHTML = "";
    answer.next_runs.forEach((run) => {
      const item = document.createElement("li");
      item.textContent = localTime(run.utc);
      item.title = run.local;
      list.appendChild(item);
    });
  }

  // An instant in the viewer's own time zone and language.
  function localTime(utc) {
    return new Date(utc).toLocaleString(state.language === "ja" ? "ja-JP" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
  }

  // --- schedules --------------------------------------------------------------------------------
  function schedulesPage() {
    document.querySelector('a[href="../"]').href = basePath();
    document.getElementById("jobs-link").href = basePath() + "ui/jobs";
    document.getElementById("viewer-zone").textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    const rows = document.getElementById("schedules");
    const more = document.getElementById("more");
    const view = { schedules: [], next: null };
    function row(schedule) {
      const tr = document.createElement("tr");
      tr.dataset.scheduleId = schedule.schedule_id;
      const cell = (text, className) => { const td = document.createElement("td"); td.textContent = text; if (className) td.className = className; tr.appendChild(td); return td; };
      cell(schedule.job_name + "\n").appendChild(Object.assign(document.createElement("code"), { textContent: schedule.schedule_id }));
      cell(schedule.expression + " (" + schedule.timezone + ")");
      cell(t("sch.state." + schedule.state), "state " + schedule.state).dataset.state = schedule.state;
      const next = cell(schedule.next_run ? localTime(schedule.next_run.utc) : "–", "next-run");
      if (schedule.next_run) next.title = schedule.next_run.local;
      const last = schedule.last_run;
      cell(last ? localTime(last.scheduled_time) + " · " + t("sch.outcome." + last.outcome) : "–");
      const actions = cell("");
      const to = schedule.state === "ENABLED" ? "PAUSED" : "ENABLED";
      const button = Object.assign(document.createElement("button"), {
        type: "button", className: "secondary " + (to === "PAUSED" ? "pause" : "resume"),
        textContent: t(to === "PAUSED" ? "sch.pause" : "sch.resume"),
      });
      button.onclick = () => change(schedule, to);
      actions.appendChild(button);
      return tr;
    }
    function render() {
      rows.innerHTML = "";
      view.schedules.forEach((schedule) => rows.appendChild(row(schedule)));
      if (!view.schedules.length) banner("ok", t("sch.none"));
      more.classList.toggle("hidden", !view.next);
    }
    async function page(cursor) {
      const { status, json } = await api("GET", "schedules?limit=20" + (cursor ? "&next=" + encodeURIComponent(cursor) : ""));
      if (status !== 200) { banner("error", (json && json.error && json.error.message) || t("submit.unavailable")); return; }
      view.schedules = view.schedules.concat(json.schedules);
      view.next = json.next;
      render();
    }
    async function change(schedule, to) {
      const { status, json } = await api("PATCH", "schedules/" + encodeURIComponent(schedule.schedule_id), { state: to });
      if (status !== 200) { banner("error", (json && json.error && json.error.message) || t("submit.unavailable")); return; }
      view.schedules = [];
      await page(null);
      banner("ok", t("sch.done." + json.state).replace("{s}", schedule.job_name));
    }
    more.addEventListener("click", () => page(view.next));
    setupLanguage(render);
    page(null);
  }

  // --- recent jobs ------------------------------------------------------------------------------
  function jobsPage() {
    document.querySelector('a[href="../"]').href = basePath();
    document.getElementById("result-sets-link").href = basePath() + "ui/result-sets";
    const rows = document.getElementById("jobs");
    const more = document.getElementById("more");
    let next = null;
    async function page(cursor) {
      const { status, json } = await api("GET", "jobs?limit=20" + (cursor ? "&next=" + encodeURIComponent(cursor) : ""));
      if (status !== 200) { banner("error", (json && json.error && json.error.message) || t("submit.unavailable")); return; }
      json.jobs.forEach((job) => {
        const row = document.createElement("tr");
        row.dataset.jobId = job.job_id;
        const cell = (text, className) => { const td = document.createElement("td"); td.textContent = text; if (className) td.className = className; row.appendChild(td); return td; };
        cell((job.job_name || "") + "\n").appendChild(Object.assign(document.createElement("code"), { textContent: job.job_id }));
        cell(statusText(job.status), "status " + job.status).dataset.status = job.status;
        cell(since(job.status_since));
        cell(new Date(job.created_at).toLocaleString());
        cell(job.submitted_by || "");
        actions(cell(""), job);
        rows.appendChild(row);
      });
      if (!rows.children.length) banner("ok", t("jobs.none"));
      next = json.next;
      more.classList.toggle("hidden", !next);
    }
    // A failed or cancelled job can be retried (once: then its retry is named), a running one
    // cancelled (the API's own rules: a refusal is shown as it answers).
    function actions(td, job) {
      const button = (key, className, onClick) => {
        const b = Object.assign(document.createElement("button"), { type: "button", className, textContent: t(key) });
        b.dataset.action = key;
        b.addEventListener("click", onClick);
        td.appendChild(b);
      };
      const path = "jobs/" + encodeURIComponent(job.job_id);
      if (job.retried_by) {
        // Retried already: the retry is the job to follow (asking again would answer it).
        td.appendChild(Object.assign(document.createElement("span"), {
          className: "hint retried-by", textContent: t("jobs.retried_by").replace("{id}", job.retried_by) }));
      } else if (["FAILED", "CANCELLED"].includes(job.status)) {
        button("jobs.retry", "secondary", async () => {
          const { status, json } = await api("POST", path + "/retry");
          if (status !== 200 && status !== 202) return refused(json);
          banner("ok", t("jobs.retried").replace("{id}", json.job_id).replace("{old}", job.job_id));
          refresh();
        });
      } else if (!["SUCCEEDED", "HELD", "REJECTED", "SKIPPED"].includes(job.status)) {
        button("jobs.cancel", "secondary discard", async () => {
          if (!confirm(t("jobs.cancel_confirm").replace("{id}", job.job_id))) return;
          const { status, json } = await api("DELETE", path);
          if (status !== 200 && status !== 202) return refused(json);
          banner("ok", t("jobs.cancelled").replace("{id}", job.job_id));
          refresh();
        });
      }
    }
    function refused(json) { banner("error", (json && json.error && json.error.message) || t("submit.unavailable")); }
    function refresh() { rows.innerHTML = ""; page(null); }
    setupLanguage(refresh);
    more.addEventListener("click", () => page(next));
    page(null);
  }

  // --- result sets and their versions ------------------------------------------------------------
  const METRICS = ["users_personalized", "catalog_coverage", "top1pct_share", "mean_list_length", "short_lists_share",
    "segments_published", "overlap_at_k", "banned_served", "score_p50", "score_p99"];
  const SVG = "http://www.w3.org/2000/svg";

  function formatNumber(value) {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
  }

  function svgNode(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    Object.entries(attributes).forEach(([key, value]) => node.setAttribute(key, value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // One metric across versions (oldest first) as an inline SVG line chart: a point per version
  // that has the metric, the current one filled, held ones red, each with its value as a tooltip.
  function chart(metric, versions) {
    const points = versions.filter((v) => v.metrics && typeof v.metrics[metric] === "number");
    if (!points.length) return null;
    const width = 320, height = 150, left = 48, right = 12, top = 24, bottom = 22;
    const values = points.map((v) => v.metrics[metric]);
    let low = Math.min(...values), high = Math.max(...values);
    if (low === high) { low -= Math.abs(low) * 0.1 || 1; high += Math.abs(high) * 0.1 || 1; }
    const x = (i) => left + (points.length === 1 ? (width - left - right) / 2 : (i * (width - left - right)) / (points.length - 1));
    const y = (value) => top + ((high - value) * (height - top - bottom)) / (high - low);
    const svg = svgNode("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "chart", "data-metric": metric });
    svg.appendChild(svgNode("title", {}, t("metric." + metric)));
    svg.appendChild(svgNode("text", { x: 4, y: 14, class: "chart-title" }, t("metric." + metric)));
    svg.appendChild(svgNode("line", { x1: left, y1: top, x2: left, y2: height - bottom, class: "axis" }));
    svg.appendChild(svgNode("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, class: "axis" }));
    svg.appendChild(svgNode("text", { x: left - 4, y: y(high) + 4, "text-anchor": "end", class: "tick" }, formatNumber(high)));
    svg.appendChild(svgNode("text", { x: left - 4, y: y(low) + 4, "text-anchor": "end", class: "tick" }, formatNumber(low)));
    // Version ids start with the job's submission time: 20261201T093438Z-… reads 12-01 09:34.
    const when = (id) => (/^\d{8}T\d{4}/.test(id) ? `${id.slice(4, 6)}-${id.slice(6, 8)} ${id.slice(9, 11)}:${id.slice(11, 13)}` : id.slice(0, 12));
    const first = when(points[0].version), last = when(points[points.length - 1].version);
    svg.appendChild(svgNode("text", { x: left, y: height - 6, class: "tick" }, first));
    if (points.length > 1) svg.appendChild(svgNode("text", { x: width - right, y: height - 6, "text-anchor": "end", class: "tick" }, last));
    svg.appendChild(svgNode("polyline", { points: values.map((v, i) => `${x(i)},${y(v)}`).join(" "), class: "series" }));
    points.forEach((version, i) => {
      const dot = svgNode("circle", { cx: x(i), cy: y(values[i]), r: 4, class: "point " + version.state, "data-version": version.version });
      dot.appendChild(svgNode("title", {}, `${version.version}: ${formatNumber(values[i])} (${t("state." + version.state)})`));
      svg.appendChild(dot);
    });
    return svg;
  }

  function resultSetsPage() {
    document.querySelector('a[href="../"]').href = basePath();
    document.getElementById("jobs-link").href = basePath() + "ui/jobs";
    const params = new URLSearchParams(location.search);
    const rows = document.getElementById("result-sets");
    const more = document.getElementById("more");
    const view = { list: [], next: null, shown: null, promoting: null, audiences: null, audienceUsers: null, similar: null };
    const failed = (json) => (json && json.error ? json.error.message + " (" + json.error.code + ")" : t("submit.unavailable"));

    function listRow(rs) {
      const row = document.createElement("tr");
      row.dataset.resultSet = rs.result_set;
      const cell = (content) => { const td = document.createElement("td"); if (typeof content === "string") td.textContent = content; else td.appendChild(content); row.appendChild(td); };
      const link = Object.assign(document.createElement("a"), { href: "?result_set=" + encodeURIComponent(rs.result_set), textContent: rs.result_set });
      link.onclick = (event) => { event.preventDefault(); show(rs.result_set); };
      cell(link);
      cell(rs.current_version || t("rs.nothing"));
      cell(rs.published_at ? since(rs.published_at) : "–");
      cell(rs.last_job ? rs.last_job.job_id + " – " + statusText(rs.last_job.status) : "–");
      return row;
    }

    function renderList() {
      rows.innerHTML = "";
      view.list.forEach((rs) => rows.appendChild(listRow(rs)));
      if (!view.list.length) banner("ok", t("rs.none"));
      more.classList.toggle("hidden", !view.next);
    }

    async function page(cursor) {
      const { status, json } = await api("GET", "result-sets?limit=20" + (cursor ? "&next=" + encodeURIComponent(cursor) : ""));
      if (status !== 200) { banner("error", failed(json)); return; }
      view.list = view.list.concat(json.result_sets);
      view.next = json.next;
      renderList();
    }

    function versionRow(version) {
      const row = document.createElement("tr");
      row.dataset.version = version.version;
      const cell = (text, className) => { const td = document.createElement("td"); td.textContent = text; if (className) td.className = className; row.appendChild(td); return td; };
      cell(version.version).className = "mono";
      cell(t("state." + version.state) + " (" + version.state + ")", "state " + version.state).dataset.state = version.state;
      cell(version.job_id).className = "mono";
      cell(version.published_at ? new Date(version.published_at).toLocaleString() : "–");
      const gate = version.gate;
      const failures = gate && gate.failures && gate.failures.length
        ? ": " + gate.failures.map((f) => `${f.rule} ${f.metric} ${formatNumber(f.value)} / ${formatNumber(f.bound)}`).join("; ") : "";
      cell(gate ? t(gate.passed ? "gate.passed" : "gate.failed") + failures : "–", gate && !gate.passed ? "gate-failed" : "");
      cell(version.promoted_by ? version.promoted_by + (version.reason ? ": " + version.reason : "") : "–");
      const actions = cell("");
      const button = (label, className, onClick) => {
        const b = Object.assign(document.createElement("button"), { type: "button", textContent: t(label), className });
        b.onclick = onClick;
        actions.appendChild(b);
      };
      if (version.state === "HELD" || version.state === "SUPERSEDED") button("rs.promote", "promote", () => askReason(version.version));
      if (version.state === "HELD") button("rs.discard", "secondary discard", () => change("DELETE", "versions/" + encodeURIComponent(version.version), null, "rs.done.discard"));
      return row;
    }

    function renderShown() {
      const rs = view.shown;
      if (!rs) return;
      document.getElementById("result-set").classList.remove("hidden");
      document.getElementById("rs-name").textContent = rs.result_set;
      document.getElementById("rs-current").textContent = rs.current_version || t("rs.nothing");
      document.getElementById("rs-age").textContent = rs.published_at ? since(rs.published_at) : "–";
      document.getElementById("rollback").classList.toggle("hidden", !rs.previous_version);
      const answers = document.getElementById("rs-answers");
      answers.classList.toggle("hidden", !rs.answers_last_hour);
      if (rs.answers_last_hour) {
        const shares = Object.entries(rs.answers_last_hour.sources)
          .map(([source, s]) => `${t("source." + source)} ${Math.round(s.share * 100)} %`).join(", ");
        answers.textContent = `${t("rs.answers")}: ${rs.answers_last_hour.total} (${shares})`;
      }
      const body = document.getElementById("versions");
      body.innerHTML = "";
      rs.versions.forEach((version) => body.appendChild(versionRow(version)));
      const charts = document.getElementById("charts");
      charts.innerHTML = "";
      const oldestFirst = rs.versions.slice().reverse();
      METRICS.forEach((metric) => { const svg = chart(metric, oldestFirst); if (svg) charts.appendChild(svg); });
      document.getElementById("similar-box").classList.toggle("hidden", rs.output !== "similar_items");
      renderAudiences();
      renderSimilar();
    }

    // A result set of audiences: each one's size and users by segment, and its users a page at
    // a time (GET audiences/{rs}, then its users_path).
    function audienceLabel(audience) {
      if (audience.item) return t("aud.item").replace("{i}", audience.item);
      const filter = Object.entries(audience.item_filter || {}).map(([column, values]) => column + " = " + values.join(" / "));
      return t("aud.filter").replace("{f}", filter.join(", "));
    }

    function breakdownText(breakdown) {
      return Object.entries(breakdown).map(([column, counts]) =>
        column + ": " + counts.slice(0, 3).map((c) => c.value + " " + c.users).join(", ") + (counts.length > 3 ? ", …" : "")).join("; ");
    }

    function renderAudiences() {
      const shown = view.audiences;
      document.getElementById("audiences-box").classList.toggle("hidden", !shown);
      if (!shown) return;
      document.getElementById("aud-summary").textContent = t("aud.summary").replace("{n}", shown.size)
        .replace("{a}", shown.audiences.length).replace("{v}", shown.version).replace("{t}", since(shown.created));
      const body = document.getElementById("audiences");
      body.innerHTML = "";
      shown.audiences.forEach((audience) => {
        const row = document.createElement("tr");
        const cell = (text) => { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; };
        cell(audienceLabel(audience));
        cell(String(audience.size));
        cell(audience.error ? t("aud.failed").replace("{e}", audience.error) : breakdownText(audience.breakdown));
        const actions = cell("");
        if (!audience.error && audience.size) {
          const button = Object.assign(document.createElement("button"), { type: "button", className: "secondary", textContent: t("aud.users") });
          button.onclick = () => audienceUsers(audience, null);
          actions.appendChild(button);
        }
        body.appendChild(row);
      });
      renderAudienceUsers();
    }

    async function audienceUsers(audience, cursor) {
      const path = audience.users_path.replace(/^\//, "");
      const query = (path.includes("?") ? "&" : "?") + "limit=20" + (cursor ? "&next=" + encodeURIComponent(cursor) : "");
      const { status, json } = await api("GET", path + query);
      if (status !== 200) { banner("error", failed(json)); return; }
      const earlier = cursor && view.audienceUsers ? view.audienceUsers.users : [];
      view.audienceUsers = { audience, users: earlier.concat(json.users), next: json.next };
      renderAudienceUsers();
    }

    function renderAudienceUsers() {
      const shown = view.audienceUsers;
      document.getElementById("aud-users-box").classList.toggle("hidden", !shown);
      if (!shown) return;
      document.getElementById("aud-users-title").textContent = t("aud.users") + ": " + audienceLabel(shown.audience);
      const body = document.getElementById("aud-users");
      body.innerHTML = "";
      shown.users.forEach((user) => {
        const row = document.createElement("tr");
        row.dataset.user = user.user_id;
        [user.user_id, formatNumber(user.score), Object.entries(user.attributes || {}).map(([k, v]) => k + ": " + v).join(", ")]
          .forEach((text) => { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); });
        body.appendChild(row);
      });
      const more = document.getElementById("aud-more");
      more.classList.toggle("hidden", !shown.next);
      more.onclick = () => audienceUsers(shown.audience, shown.next);
    }

    // A result set of similar items: an item's list, and where it came from.
    async function similarTo() {
      const item = document.getElementById("sim-item").value.trim();
      if (!item) return;
      const path = "similar-items/" + encodeURIComponent(view.shown.result_set) + "/" + encodeURIComponent(item) + "?n=10";
      const { status, json } = await api("GET", path);
      if (status !== 200) { banner("error", failed(json)); return; }
      view.similar = json;
      renderSimilar();
    }

    function renderSimilar() {
      const shown = view.similar;
      const list = document.getElementById("sim-items");
      list.innerHTML = "";
      const source = document.getElementById("sim-source");
      source.classList.toggle("hidden", !shown);
      if (!shown) return;
      source.textContent = shown.items.length
        ? t("sim.from").replace("{s}", t("sim.source." + shown.source)).replace("{v}", shown.version) : t("sim.none");
      shown.items.forEach((item) => {
        const entry = Object.assign(document.createElement("li"), { textContent: item.item_id + " (" + formatNumber(item.score) + ")" });
        entry.dataset.item = item.item_id;
        list.appendChild(entry);
      });
    }

    async function show(name) {
      const { status, json } = await api("GET", "result-sets/" + encodeURIComponent(name));
      if (status !== 200) { banner("error", failed(json)); return false; }
      const other = !view.shown || view.shown.result_set !== name;
      view.shown = json;
      if (other) Object.assign(view, { audiences: null, audienceUsers: null, similar: null });
      history.replaceState(null, "", "?result_set=" + encodeURIComponent(name));
      renderShown();
      if (json.output === "audience") {
        const answer = await api("GET", "audiences/" + encodeURIComponent(name));
        if (answer.status !== 200) { banner("error", failed(answer.json)); return true; }
        view.audiences = answer.json;
        renderAudiences();
      }
      return true;
    }

    function askReason(version) {
      view.promoting = version;
      document.getElementById("promote-version").textContent = version;
      document.getElementById("promote-reason").value = "";
      document.getElementById("promote-box").classList.remove("hidden");
      document.getElementById("promote-reason").focus();
    }

    // A promote, rollback or discard; then the result set as it is now.
    async function change(method, path, body, done) {
      const name = view.shown.result_set;
      const { status, json } = await api(method, "result-sets/" + encodeURIComponent(name) + "/" + path, body);
      if (status !== 200) { banner("error", failed(json)); return; }
      const version = json.current_version || json.version.version;
      await show(name);
      banner("ok", t(done).replace("{v}", version));
    }

    document.getElementById("promote-confirm").onclick = async () => {
      const reason = document.getElementById("promote-reason").value.trim();
      if (!reason) { banner("error", t("rs.reason_required")); return; }
      document.getElementById("promote-box").classList.add("hidden");
      await change("POST", "versions/" + encodeURIComponent(view.promoting) + "/promote", { reason }, "rs.done.promote");
    };
    document.getElementById("promote-cancel").onclick = () => document.getElementById("promote-box").classList.add("hidden");
    document.getElementById("rollback").onclick = () => change("POST", "rollback", null, "rs.done.rollback");
    document.getElementById("sim-show").onclick = similarTo;
    document.getElementById("sim-item").addEventListener("keydown", (event) => { if (event.key === "Enter") similarTo(); });
    more.addEventListener("click", () => page(view.next));
    setupLanguage(() => { renderList(); renderShown(); });
    page(null).then(async () => {
      // Links from Slack: ?result_set=<name>[&promote=<version>] (the reason is still asked).
      const name = params.get("result_set");
      if (name && (await show(name)) && params.get("promote")) askReason(params.get("promote"));
    });
  }

  // --- placements: arms and split, KPIs per arm with their intervals, CTR per day -------------
  const KPIS = ["ctr", "add_to_cart_rate", "cvr", "revenue_per_impression"];

  function percent(value) { return value === null || value === undefined ? "–" : (value * 100).toFixed(2) + " %"; }

  // A value and its 95 % interval as a small inline SVG: the interval's bar on a scale from 0
  // to `max`, the value's mark, and the numbers as text and tooltip.
  function intervalBar(kpi, interval, max) {
    const text = interval.value === null ? "–" : (kpi === "revenue_per_impression"
      ? `${formatNumber(interval.value)} [${formatNumber(interval.low)}, ${formatNumber(interval.high)}]`
      : `${percent(interval.value)} [${percent(interval.low)}, ${percent(interval.high)}]`);
    const span = document.createElement("span");
    span.className = "interval";
    span.dataset.kpi = kpi;
    if (interval.value !== null && max > 0) {
      const width = 80, x = (v) => Math.max(0, Math.min(width, (v / max) * width));
      const svg = svgNode("svg", { viewBox: `0 0 ${width} 12`, width, height: 12, role: "img", class: "interval-bar" });
      svg.appendChild(svgNode("title", {}, text));
      svg.appendChild(svgNode("rect", { x: x(interval.low), y: 3, width: Math.max(1, x(interval.high) - x(interval.low)), height: 6, class: "range" }));
      svg.appendChild(svgNode("rect", { x: x(interval.value) - 1, y: 0, width: 2, height: 12, class: "mark" }));
      span.appendChild(svg);
    }
    span.appendChild(document.createTextNode(" " + text));
    return span;
  }

  // Each arm's CTR per day as one inline SVG line chart (a line per arm, days left to right).
  function dailyChart(arms) {
    const days = arms.length ? arms[0].days.map((d) => d.day) : [];
    if (!days.length) return null;
    const width = 480, height = 180, left = 56, right = 90, top = 16, bottom = 24;
    const values = arms.flatMap((a) => a.days.map((d) => d.ctr.value)).filter((v) => v !== null);
    const high = values.length ? Math.max(...values) * 1.1 || 0.01 : 0.01;
    const x = (i) => left + (days.length === 1 ? 0 : (i * (width - left - right)) / (days.length - 1));
    const y = (v) => top + ((high - v) * (height - top - bottom)) / high;
    const svg = svgNode("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "chart daily" });
    svg.appendChild(svgNode("title", {}, t("pl.daily")));
    svg.appendChild(svgNode("line", { x1: left, y1: top, x2: left, y2: height - bottom, class: "axis" }));
    svg.appendChild(svgNode("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, class: "axis" }));
    svg.appendChild(svgNode("text", { x: left - 4, y: y(high) + 4, "text-anchor": "end", class: "tick" }, percent(high)));
    svg.appendChild(svgNode("text", { x: left - 4, y: y(0) + 4, "text-anchor": "end", class: "tick" }, "0 %"));
    svg.appendChild(svgNode("text", { x: left, y: height - 6, class: "tick" }, days[0]));
    svg.appendChild(svgNode("text", { x: width - right, y: height - 6, "text-anchor": "end", class: "tick" }, days[days.length - 1]));
    arms.forEach((arm, n) => {
      const points = arm.days.map((d, i) => [i, d.ctr.value]).filter(([, v]) => v !== null);
      if (!points.length) return;
      svg.appendChild(svgNode("polyline", { points: points.map(([i, v]) => `${x(i)},${y(v)}`).join(" "), class: "series arm-" + (n % 4), "data-arm": arm.arm }));
      points.forEach(([i, v]) => {
        const dot = svgNode("circle", { cx: x(i), cy: y(v), r: 3, class: "point arm-" + (n % 4) });
        dot.appendChild(svgNode("title", {}, `${arm.arm} ${arm.days[i].day}: ${percent(v)} (${arm.days[i].impressions})`));
        svg.appendChild(dot);
      });
      const [lastI, lastV] = points[points.length - 1];
      svg.appendChild(svgNode("text", { x: x(lastI) + 6, y: y(lastV) + 4, class: "tick arm-" + (n % 4) }, arm.arm));
    });
    return svg;
  }

  function placementsPage() {
    document.querySelector('a[href="../"]').href = basePath();
    document.getElementById("jobs-link").href = basePath() + "ui/jobs";
    document.getElementById("result-sets-link").href = basePath() + "ui/result-sets";
    const params = new URLSearchParams(location.search);
    const rows = document.getElementById("placements");
    const more = document.getElementById("more");
    const view = { list: [], next: null, shown: null, metrics: null };
    const failed = (json) => (json && json.error ? json.error.message + " (" + json.error.code + ")" : t("submit.unavailable"));
    const cell = (row, content) => {
      const td = document.createElement("td");
      if (typeof content === "string") td.textContent = content; else td.appendChild(content);
      row.appendChild(td);
      return td;
    };

    function renderList() {
      rows.innerHTML = "";
      view.list.forEach((placement) => {
        const row = document.createElement("tr");
        row.dataset.placement = placement.placement;
        const link = Object.assign(document.createElement("a"), { href: "?placement=" + encodeURIComponent(placement.placement), textContent: placement.placement });
        link.onclick = (event) => { event.preventDefault(); show(placement.placement); };
        cell(row, link);
        cell(row, placement.arms.map((a) => a.arm).join(", "));
        cell(row, String(placement.revision));
        cell(row, new Date(placement.updated_at).toLocaleString() + " – " + placement.updated_by);
        rows.appendChild(row);
      });
      if (!view.list.length) banner("ok", t("pl.none"));
      more.classList.toggle("hidden", !view.next);
    }

    async function page(cursor) {
      const { status, json } = await api("GET", "placements?limit=20" + (cursor ? "&next=" + encodeURIComponent(cursor) : ""));
      if (status !== 200) { banner("error", failed(json)); return; }
      view.list = view.list.concat(json.placements);
      view.next = json.next;
      renderList();
    }

    function renderShown() {
      const placement = view.shown, metrics = view.metrics;
      if (!placement || !metrics) return;
      document.getElementById("placement").classList.remove("hidden");
      document.getElementById("pl-name").textContent = placement.placement;
      document.getElementById("pl-changed").textContent = t("pl.changed").replace("{r}", placement.revision)
        .replace("{by}", placement.updated_by).replace("{at}", new Date(placement.updated_at).toLocaleString());
      const arms = document.getElementById("arms");
      arms.innerHTML = "";
      placement.arms.forEach((arm) => {
        const row = document.createElement("tr");
        row.dataset.arm = arm.arm;
        cell(row, arm.arm);
        cell(row, t("kind." + arm.kind));
        cell(row, arm.result_set);
        cell(row, arm.share === undefined ? "–" : Math.round(arm.share * 100) + " %").className = "share";
        arms.appendChild(row);
      });
      document.getElementById("pl-range").textContent = `(${metrics.from} – ${metrics.to})`;
      const kpis = document.getElementById("kpis");
      kpis.innerHTML = "";
      const max = Object.fromEntries(KPIS.map((k) => [k, Math.max(0, ...metrics.arms.map((a) => a.total[k].high || 0))]));
      metrics.arms.forEach((arm) => {
        const row = document.createElement("tr");
        row.dataset.arm = arm.arm;
        cell(row, arm.arm);
        cell(row, String(arm.total.impressions)).className = "impressions";
        KPIS.forEach((k) => cell(row, intervalBar(k, arm.total[k], max[k])));
        const versus = arm.versus_first && arm.versus_first.ctr;
        cell(row, versus && versus.difference !== null
          ? `${(versus.difference * 100).toFixed(2)} pp, p = ${versus.p_value.toPrecision(2)} (${t(versus.significant ? "pl.significant" : "pl.not_significant")})`
          : "–").className = "versus";
        kpis.appendChild(row);
      });
      const preference = document.getElementById("pl-preference");
      preference.classList.toggle("hidden", !metrics.interleaving);
      if (metrics.interleaving) {
        const p = metrics.interleaving;
        preference.textContent = t("pl.preference").replace("{arm}", p.arms[1]).replace("{share}", percent(p.preference_share.value))
          .replace("{b}", p.wins[1]).replace("{a}", p.wins[0]).replace("{p}", p.p_value.toPrecision(2));
      }
      const daily = document.getElementById("daily");
      daily.innerHTML = "";
      const svg = dailyChart(metrics.arms);
      if (svg) daily.appendChild(svg);
      renderAlerts(placement.open_alerts || []);
    }

    // The monitor's open alerts: impressions as counts, revenue as a number, rates in percent.
    function renderAlerts(alerts) {
      const list = document.getElementById("pl-alerts");
      list.innerHTML = "";
      const shown = (kpi, v) => kpi === "impressions" ? String(Math.round(v))
        : kpi === "revenue_per_impression" ? v.toPrecision(3) : percent(v);
      if (!alerts.length) {
        const none = document.createElement("li");
        none.textContent = t("pl.alerts.none");
        list.appendChild(none);
      }
      alerts.forEach((a) => {
        const item = document.createElement("li");
        item.dataset.kpi = a.kpi;
        item.className = "alert";
        item.textContent = t("pl.alert").replace("{day}", a.day).replace("{kpi}", t("kpi." + a.kpi))
          .replace("{value}", shown(a.kpi, a.value)).replace("{side}", t("pl.alert." + a.direction))
          .replace("{low}", shown(a.kpi, a.expected.low)).replace("{high}", shown(a.kpi, a.expected.high))
          .replace("{triage}", t("triage." + a.triage)).replace("{reason}", a.reason);
        list.appendChild(item);
      });
    }

    async function show(name) {
      const [shown, metrics] = await Promise.all([
        api("GET", "placements/" + encodeURIComponent(name)),
        api("GET", "placements/" + encodeURIComponent(name) + "/metrics"),
      ]);
      if (shown.status !== 200) { banner("error", failed(shown.json)); return; }
      if (metrics.status !== 200) { banner("error", failed(metrics.json)); return; }
      view.shown = shown.json;
      view.metrics = metrics.json;
      history.replaceState(null, "", "?placement=" + encodeURIComponent(name));
      renderShown();
    }

    more.addEventListener("click", () => page(view.next));
    setupLanguage(() => { renderList(); renderShown(); });
    page(null).then(() => { if (params.get("placement")) show(params.get("placement")); });
  }

  return { formPage, jobsPage, resultSetsPage, schedulesPage, placementsPage, buildForm, fieldFor, chart };
})();
