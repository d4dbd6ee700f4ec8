"""Deterministic generator of realistic raw CRM and marketing tables, as an EL tool would land them.

    lead-scoring datagen --database PATH [--leads 5000] [--events-per-lead 20] [--days 180]
                                    [--seed 42] [--as-of "2026-11-01 00:00:00"] [--schema raw] [--planted-truth]
    lead-scoring datagen --database PATH --append-events 0.001 [--seed 42] [--loaded-at TS]

It (re)creates ``<schema>.leads``, ``<schema>.events`` and ``<schema>.opportunities`` with the columns of
docs/raw_contract.md (plus one custom CRM field on leads, ``crm_segment``), full of the faults the
contract warns about: lead versions, soft deletes, null ids, re-delivered / anonymous / orphan / unknown /
future / late events, bot bursts, inconsistent labels in several languages, garbage numbers.

How it works, and why it is fast and reproducible:
- Everything is generated inside DuckDB with ``range()``-driven ``INSERT ... SELECT`` statements; there is
  no Python loop over rows, so 100M events are a matter of minutes, not hours.
- There is no ``random()`` or ``uuid()``: every pseudo-random number is ``hash(<row key>, seed, '<salt>')``
  mapped to [0, 1) (see :meth:`_Sql.u`). The same arguments give the same tables, on any machine with the
  same DuckDB version. All times are relative to ``as_of``, never to the wall clock.
- Every lead has hidden (latent) traits: a fit in [-0.4, 1] from its industry, company size, seniority and
  email type, and an engagement propensity that drives its event volume, recency and intent events.
  Opportunities are drawn from both, so leads that a sensible model scores high really convert more often.
  Pass ``latent_schema=...`` to :func:`generate` to keep those traits in ``<latent_schema>.lead_latent``
  (for tests and calibration work; the raw schema never holds them).
- Opt-in planted truth (``planted_truth=True``, ``--planted-truth``; docs/planted_truth.md): conversion is driven
  by known drivers of several kinds, listed in PLANTED_DRIVERS, next to noise that has no effect (PLANTED_NOISE),
  so that rule discovery can be checked against what was planted. It only adds draws with salts of their own
  ("pt_..."): without the flag every table is what it always was.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import re
import sys
import time
from dataclasses import dataclass

import duckdb

from lead_scoring.clock import format_as_of, format_compact, parse_instant

DEFAULTS = dict(leads=5000, events_per_lead=20.0, days=180, seed=42, as_of="2026-11-01 00:00:00", schema="raw")

# --------------------------------------------------------------------------------------------------
# The raw contract (docs/raw_contract.md) plus one custom CRM field
# --------------------------------------------------------------------------------------------------
LEADS_COLUMNS = (
    ("lead_id", "VARCHAR"), ("email", "VARCHAR"), ("first_name", "VARCHAR"), ("last_name", "VARCHAR"),
    ("job_title", "VARCHAR"), ("company_name", "VARCHAR"), ("company_domain", "VARCHAR"),
    ("industry", "VARCHAR"), ("employee_count", "VARCHAR"), ("annual_revenue", "DOUBLE"),
    ("country", "VARCHAR"), ("city", "VARCHAR"), ("lead_source", "VARCHAR"), ("budget", "VARCHAR"),
    ("authority", "VARCHAR"), ("need", "VARCHAR"), ("timeline", "VARCHAR"), ("created_at", "TIMESTAMP"),
    ("updated_at", "TIMESTAMP"), ("is_deleted", "BOOLEAN"), ("_loaded_at", "TIMESTAMP"),
    ("crm_segment", "VARCHAR"),  # custom CRM field (not in the contract): must flow through staging
)
EVENTS_COLUMNS = (
    ("event_id", "VARCHAR"), ("lead_id", "VARCHAR"), ("event_type", "VARCHAR"), ("channel", "VARCHAR"),
    ("occurred_at", "TIMESTAMP"), ("page_url", "VARCHAR"), ("search_term", "VARCHAR"),
    ("properties", "VARCHAR"), ("_loaded_at", "TIMESTAMP"),
)
OPPORTUNITIES_COLUMNS = (
    ("opportunity_id", "VARCHAR"), ("lead_id", "VARCHAR"), ("created_at", "TIMESTAMP"), ("stage", "VARCHAR"),
    ("is_won", "BOOLEAN"), ("closed_at", "TIMESTAMP"), ("amount", "DOUBLE"), ("_loaded_at", "TIMESTAMP"),
)
TABLES = {"leads": LEADS_COLUMNS, "events": EVENTS_COLUMNS, "opportunities": OPPORTUNITIES_COLUMNS}

# --------------------------------------------------------------------------------------------------
# The planted truth (opt-in: generate(..., planted_truth=True), `datagen --planted-truth`; docs/planted_truth.md)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlantedDriver:
    """One planted cause of conversion (or one planted non-cause, in PLANTED_NOISE).

    `column` is the lead attribute as named in intermediate.int_lead_attributes (custom columns keep their raw
    name); `values` are its values after trim and lower-case. `low`/`high` bound a numeric range (inclusive;
    None = open). `event_type`/`property_name`/`window_days` describe an engagement driver. `column2`/`values2`
    is the second half of an interaction (or the segment a path applies to). `strength` is the log-odds added to
    a lead's conversion when the driver holds; `share` the approximate share of leads it holds for.
    """

    name: str
    kind: str  # categorical | numeric_range | event_decay | event_property | interaction | segment_path | noise
    direction: int  # +1 raises conversion, -1 lowers it, 0 = noise (no effect)
    strength: float
    share: float
    description: str
    column: str | None = None
    values: tuple = ()
    low: float | None = None
    high: float | None = None
    event_type: str | None = None
    property_name: str | None = None
    window_days: float | None = None
    column2: str | None = None
    values2: tuple = ()


# Every number the SQL of the planted truth uses: the drivers below quote them, so the docs cannot drift.
PT_SHARE_CONSUMER = 0.6      # of personal-email leads: a B2C "consumer" (no company fields, its own path)
PT_SHARE_IN_MARKET = 0.12    # of business leads: a demo_request burst (before the opportunity if it converts)
PT_SHARE_DEEP_READER = 0.20  # of business leads: long page views
PT_SHARE_WEBINAR = 0.25      # of consumers: webinar attendees
PT_LONG_VIEW = (0.75, 0.20)  # share of page views lasting >= 120 s: deep readers, everyone else
PT_SEATS = (50, 500)
PT_INTENT_DAYS = 14
PT_WEBINAR_DAYS = 21
PT_COLD_DAYS = 30            # a non-converting burst ends at least this long before as_of when the lead allows
PT_B2B_BASE = dict(intercept=-5.65, fit_latent=2.0, eng_z=0.5)  # today's latent traits, at reduced weight
PT_CONSUMER_INTERCEPT = -4.0
PT_LOGIT = dict(enterprise=2.0, starter=-1.2, seats_in_range=1.7, software_director_plus=1.5, in_market=2.2,
                deep_reader=1.5, consumer_webinar=3.2)

PLANTED_LEAD_COLUMNS = (  # custom CRM fields of raw.leads under the planted truth, after crm_segment
    ("plan_interest", "VARCHAR"), ("seats_requested", "VARCHAR"), ("customer_type", "VARCHAR"),
    ("form_variant", "VARCHAR"), ("survey_score", "VARCHAR"),
)
DIRECTOR_PLUS = ("c_level", "vp", "director")

PLANTED_DRIVERS = (
    PlantedDriver("plan_interest_enterprise", "categorical", +1, PT_LOGIT["enterprise"], 0.14,
                  "custom column plan_interest = 'enterprise' (any case, padded) converts far more",
                  column="plan_interest", values=("enterprise",)),
    PlantedDriver("plan_interest_starter", "categorical", -1, PT_LOGIT["starter"], 0.23,
                  "custom column plan_interest = 'starter' converts less",
                  column="plan_interest", values=("starter",)),
    PlantedDriver("seats_requested_50_500", "numeric_range", +1, PT_LOGIT["seats_in_range"], 0.19,
                  "custom column seats_requested (text of an integer) in [50, 500] converts; below and above do not",
                  column="seats_requested", low=float(PT_SEATS[0]), high=float(PT_SEATS[1])),
    PlantedDriver("demo_request_recent", "event_decay", +1, PT_LOGIT["in_market"], 0.11,
                  "1-3 demo_request events in the 14 days before the opportunity's created_at (a non-converting "
                  "lead's burst lies at a random, mostly older, time): a short half-life or window captures them",
                  event_type="demo_request", window_days=float(PT_INTENT_DAYS)),
    PlantedDriver("page_view_long_duration", "event_property", +1, PT_LOGIT["deep_reader"], 0.19,
                  "page views with properties.duration_seconds >= 120: 75% of a deep reader's page views, 20% "
                  "of anyone else's",
                  event_type="page_view", property_name="duration_seconds", low=120.0),
    PlantedDriver("software_x_director_plus", "interaction", +1, PT_LOGIT["software_director_plus"], 0.07,
                  "industry software AND seniority director or above: on top of both main effects",
                  column="industry", values=("software",), column2="seniority", values2=DIRECTOR_PLUS),
    PlantedDriver("consumer_webinar_attend", "segment_path", +1, PT_LOGIT["consumer_webinar"], 0.025,
                  "consumers (customer_type = 'consumer', personal email, no company fields) convert through "
                  "webinar_attend, not through firmographics",
                  column="customer_type", values=("consumer",), event_type="webinar_attend",
                  window_days=float(PT_WEBINAR_DAYS)),
)
PLANTED_NOISE = (
    PlantedDriver("form_variant", "noise", 0, 0.0, 0.9,
                  "custom categorical column form_variant ('A', 'B', 'C', some lower-case, 10% missing): no effect",
                  column="form_variant", values=("a", "b", "c")),
    PlantedDriver("survey_score", "noise", 0, 0.0, 0.45,
                  "custom numeric column survey_score (0-10 as text, 55% missing): no effect, present or not",
                  column="survey_score", low=0.0, high=10.0),
    PlantedDriver("sms_click", "noise", 0, 0.0, 0.45,
                  "sms_click events, 0-3 per lead at random times, independent of everything",
                  event_type="sms_click"),
)

# --------------------------------------------------------------------------------------------------
# Vocabularies. Mapped labels are spelled as in seeds/map_*.csv (up to case and padding); the tests check
# that, so a seed edit that drops a label shows up. Languages: 1 = English, 2 = Chinese, 3 = German.
# --------------------------------------------------------------------------------------------------
EN, ZH, DE = 1, 2, 3

# (ISO code, weight, raw labels, cities, language)
COUNTRIES = (
    ("US", 30, ("US", "USA", "United States", "united states", "United States of America", "us", "美国"),
     ("New York", "San Francisco", "Austin", "Chicago", "Boston", "Seattle", "Denver"), EN),
    ("CN", 14, ("中国", "CN", "cn", "China", "PRC", "People's Republic of China"),
     ("上海", "北京", "深圳", "Shanghai", "Beijing", "杭州", "广州"), ZH),
    ("DE", 9, ("Deutschland", "DE", "Germany", "germany", "德国"),
     ("Berlin", "München", "Hamburg", "Frankfurt am Main", "Köln", "Stuttgart"), DE),
    ("GB", 8, ("UK", "United Kingdom", "GB", "England", "Great Britain", "英国"),
     ("London", "Manchester", "Edinburgh", "Bristol"), EN),
    ("FR", 4, ("France", "FR", "法国"), ("Paris", "Lyon", "Toulouse"), EN),
    ("NL", 2, ("Netherlands", "NL", "The Netherlands"), ("Amsterdam", "Rotterdam", "Utrecht"), EN),
    ("ES", 2, ("Spain", "España", "ES"), ("Madrid", "Barcelona"), EN),
    ("IT", 2, ("Italy", "IT"), ("Milano", "Roma"), EN),
    ("SE", 1, ("Sweden", "SE"), ("Stockholm", "Göteborg"), EN),
    ("CH", 1, ("Switzerland", "CH"), ("Zürich", "Basel", "Genève"), DE),
    ("CA", 3, ("Canada", "CA"), ("Toronto", "Vancouver", "Montréal"), EN),
    ("MX", 1, ("Mexico", "MX"), ("Ciudad de México", "Monterrey"), EN),
    ("BR", 2, ("Brazil", "Brasil", "BR"), ("São Paulo", "Rio de Janeiro"), EN),
    ("JP", 4, ("Japan", "日本", "JP"), ("Tokyo", "東京", "Osaka"), EN),
    ("SG", 3, ("Singapore", "SG", "新加坡"), ("Singapore",), EN),
    ("AU", 3, ("Australia", "AU"), ("Sydney", "Melbourne"), EN),
    ("IN", 4, ("India", "IN"), ("Bengaluru", "Mumbai", "Pune"), EN),
    ("KR", 2, ("South Korea", "Korea", "KR"), ("Seoul", "Busan"), EN),
    ("HK", 2, ("Hong Kong", "HK", "香港"), ("Hong Kong", "香港"), ZH),
    ("AE", 1, ("UAE", "United Arab Emirates", "AE"), ("Dubai", "Abu Dhabi"), EN),
    ("ZA", 1, ("South Africa", "ZA"), ("Cape Town", "Johannesburg"), EN),
    ("PL", 1, ("Poland", "Polska"), ("Warszawa", "Kraków"), EN),  # a real country the dictionary lacks
)
UNMAPPED_COUNTRIES = ("Atlantis", "Narnia", "Europe", "N/A", "Earth", "Latam")

# (industry, weight, latent fit weight, English labels, Chinese labels, German labels)
INDUSTRIES = (
    ("software", 24, 1.00, ("Software", "IT", "Information Technology", "Software/Internet", "Internet",
                            "SaaS", "Computer Software"), ("软件", "互联网", "信息技术", "IT服务"), ("Software", "IT")),
    ("financial_services", 10, 0.80, ("Financial Services", "Finance", "Banking", "FinTech"), ("金融", "银行"),
     ("Finance", "Banking")),
    ("insurance", 4, 0.80, ("Insurance",), ("保险",), ("Versicherung",)),
    ("manufacturing", 12, 0.70, ("Manufacturing", "Industrial"), ("制造业", "制造"), ("Fertigung", "Manufacturing")),
    ("healthcare", 8, 0.55, ("Healthcare", "Health Care", "Hospital & Health Care"), ("医疗", "医疗健康"),
     ("Healthcare",)),
    ("retail", 6, 0.45, ("Retail",), ("零售",), ("Einzelhandel",)),
    ("ecommerce", 5, 0.45, ("E-Commerce", "eCommerce"), ("电商", "电子商务"), ("E-Commerce",)),
    ("education", 5, 0.15, ("Education", "Higher Education"), ("教育",), ("Education",)),
    ("government", 3, 0.15, ("Government", "Public Sector"), ("政府",), ("Public Sector",)),
    ("telecommunications", 3, 0.30, ("Telecommunications", "Telecom"), ("电信",), ("Telecom",)),
    ("media", 4, 0.30, ("Media", "Marketing & Advertising"), ("传媒",), ("Media",)),
    ("consulting", 6, 0.30, ("Consulting", "Management Consulting"), ("咨询",), ("Consulting",)),
    ("logistics", 4, 0.25, ("Logistics", "Transportation/Logistics"), ("物流",), ("Logistics",)),
    ("energy", 3, 0.25, ("Energy",), ("能源",), ("Energy",)),
    ("real_estate", 2, 0.15, ("Real Estate",), ("房地产",), ("Real Estate",)),
)
UNMAPPED_INDUSTRIES = ("Aerospace", "农业", "Agriculture", "Non-Profit", "Hospitality", "Automotive", "Gaming", "Other")

# Seniority buckets: (name, latent weight, English, Chinese, German titles). "unmapped" titles match no
# seniority pattern of seeds/map_job_titles.csv on purpose.
TITLES = (
    ("c_level", 1.00,
     ("CEO", "CTO", "CMO", "CFO", "CIO", "Chief Marketing Officer", "Chief Revenue Officer", "Founder",
      "Co-Founder & CEO", "Chief Technology Officer"),
     ("首席执行官", "首席技术官", "首席营销官", "总裁", "CEO"),
     ("Geschäftsführer", "Geschäftsführerin", "CEO")),
    ("vp", 0.90,
     ("VP Marketing", "VP of Sales", "Vice President, Marketing", "VP Growth", "SVP Revenue", "VP Engineering",
      "Vice President of Operations"),
     ("副总裁", "市场副总裁", "销售副总裁"),
     ("VP Vertrieb", "VP Marketing")),
    ("director", 0.80,
     ("Director of Marketing", "Head of Growth", "Head of Sales", "Marketing Director", "IT Director",
      "Director, Demand Generation", "Head of Digital", "Sales Director"),
     ("市场总监", "销售总监", "技术总监", "运营总监"),
     ("Leiter Vertrieb", "Leiter Marketing", "Vertriebsleiter", "Head of Marketing", "Abteilungsleiter IT")),
    ("manager", 0.50,
     ("Marketing Manager", "Sales Manager", "Product Manager", "Demand Generation Manager", "IT Manager",
      "Operations Manager", "Account Manager", "Marketing Operations Manager"),
     ("销售经理", "市场经理", "产品经理", "运营主管", "IT主管"),
     ("Marketing Manager", "Vertriebsmanager", "Produktmanager")),
    ("individual", 0.20,
     ("Software Engineer", "Data Analyst", "Marketing Specialist", "Marketing Coordinator", "Developer",
      "Business Analyst", "Sales Engineer"),
     ("软件工程师", "市场专员", "销售专员", "数据工程师"),
     ("Software Engineer", "Marketing Specialist", "Developer")),
    ("student", -0.60,
     ("student", "Student", "Marketing Intern", "Intern", "MBA Student", "Sales Intern"),
     ("学生", "实习生", "市场实习生"),
     ("Praktikant", "Werkstudent", "Praktikantin Marketing")),
    ("unmapped", 0.25,
     ("Wizard of Light Bulb Moments", "Ninja", "Evangelist", "Owner", "Partner", "Consultant", "Freelancer",
      "Account Executive"),
     ("老板", "顾问"),
     ("Inhaber", "Berater")),
)
TITLE_NULL_WEIGHT = 0.10  # latent weight of a lead without a title
# draw order (better buckets first, so that a channel's quality bias moves leads up or down) and weights;
# bucket 0 = no title
SENIORITY_DRAW = ((1, 6), (2, 6), (3, 14), (4, 24), (5, 28), (7, 5), (0, 4), (6, 5))

FIRST_NAMES = {  # (display, ascii for the email)
    EN: (("James", "james"), ("Mary", "mary"), ("John", "john"), ("Patricia", "patricia"), ("Robert", "robert"),
         ("Jennifer", "jennifer"), ("Michael", "michael"), ("Linda", "linda"), ("David", "david"),
         ("Elizabeth", "elizabeth"), ("William", "william"), ("Sarah", "sarah"), ("Daniel", "daniel"),
         ("Emily", "emily"), ("Carlos", "carlos"), ("Priya", "priya"), ("Raj", "raj"), ("Aisha", "aisha"),
         ("Olivia", "olivia"), ("Noah", "noah"), ("Emma", "emma"), ("Liam", "liam"), ("Sofia", "sofia"),
         ("Lucas", "lucas"), ("Chloe", "chloe"), ("Ethan", "ethan"), ("Mia", "mia"), ("Amir", "amir"),
         ("José", "jose"), ("Zoë", "zoe")),
    ZH: (("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("磊", "lei"), ("强", "qiang"),
         ("洋", "yang"), ("艳", "yan"), ("杰", "jie"), ("丽", "li"), ("军", "jun"), ("浩然", "haoran"),
         ("子涵", "zihan"), ("Kevin", "kevin"), ("Grace", "grace")),
    DE: (("Lukas", "lukas"), ("Anna", "anna"), ("Jonas", "jonas"), ("Lena", "lena"), ("Felix", "felix"),
         ("Sophie", "sophie"), ("Maximilian", "maximilian"), ("Marie", "marie"), ("Jürgen", "juergen"),
         ("Sören", "soeren"), ("Katrin", "katrin"), ("Stefan", "stefan")),
}
LAST_NAMES = {
    EN: (("Smith", "smith"), ("Johnson", "johnson"), ("Williams", "williams"), ("Brown", "brown"),
         ("Jones", "jones"), ("Garcia", "garcia"), ("Miller", "miller"), ("Davis", "davis"),
         ("Martinez", "martinez"), ("Lopez", "lopez"), ("Wilson", "wilson"), ("Anderson", "anderson"),
         ("Taylor", "taylor"), ("Thomas", "thomas"), ("Moore", "moore"), ("Patel", "patel"), ("Nguyen", "nguyen"),
         ("Kim", "kim"), ("Singh", "singh"), ("O'Brien", "obrien"), ("van der Berg", "vanderberg"),
         ("Müller-Smith", "mueller-smith")),
    ZH: (("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
         ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("欧阳", "ouyang")),
    DE: (("Müller", "mueller"), ("Schmidt", "schmidt"), ("Schneider", "schneider"), ("Fischer", "fischer"),
         ("Weber", "weber"), ("Meyer", "meyer"), ("Wagner", "wagner"), ("Becker", "becker"),
         ("Schäfer", "schaefer"), ("Groß", "gross")),
}
PERSONAL_DOMAINS = {  # repeated entries weight the choice
    EN: ("gmail.com",) * 9 + ("outlook.com",) * 3 + ("yahoo.com",) * 3 + ("hotmail.com",) * 2 + ("icloud.com",) * 2
        + ("proton.me", "aol.com"),
    ZH: ("qq.com",) * 10 + ("163.com",) * 5 + ("126.com",) * 2 + ("foxmail.com", "sina.com", "yeah.net", "gmail.com"),
    DE: ("gmx.de",) * 4 + ("web.de",) * 3 + ("gmail.com",) * 3 + ("outlook.com",),
}
COMPETITORS = (("rivalscore.io", "RivalScore"), ("leadmetrics.com", "LeadMetrics Inc."),
               ("pipelinepilot.com", "PipelinePilot"))
BRAND_1 = ("Blue", "Nova", "Apex", "Bright", "Cloud", "Data", "Evergreen", "Falcon", "Global", "Harbor", "Iron",
           "Jade", "Keystone", "Lumen", "Metro", "North", "Orbit", "Pioneer", "Quantum", "Red", "Silver",
           "Summit", "Terra", "Union", "Vertex", "Wave", "Zen", "Atlas", "Beacon", "Cobalt", "Delta", "Echo",
           "Fusion", "Granite", "Helix", "Indigo", "Juniper", "Kite", "Lotus", "Maple")
BRAND_2 = ("Peak", "Soft", "Works", "Labs", "Logic", "Systems", "Bridge", "Stone", "Point", "Wire", "Forge",
           "Field", "Path", "Line", "Gate", "Scale", "Stack", "Ware", "Flow", "Base", "Craft", "Sphere", "Grid",
           "Hub", "Mind", "Nest", "Port", "Shift", "Spark", "Tide", "Vista", "Yard", "Metrics", "Cast", "Dyn",
           "Core", "Tech", "Ops", "Net", "Loop")
ZH_BRAND = ("星辰", "华创", "云帆", "智联", "东方", "新程", "天宇", "博远", "金桥", "瑞达", "同舟", "恒信")
ZH_CITY = ("上海", "北京", "深圳", "杭州", "广州", "苏州")
# (lead_source, weight, channel quality: shifts seniority, email type and engagement)
LEAD_SOURCES = (
    ("organic_search", 20, 0.05), ("paid_search", 15, -0.15), ("webinar", 10, 0.25), ("event", 8, 0.20),
    ("referral", 6, 0.35), ("content_syndication", 12, -0.30), ("social", 10, -0.10), ("email", 12, 0.0),
    ("partner", 7, 0.10),
)
SIZE_BANDS = ((1, 10, 15, 0.0), (11, 50, 25, 0.3), (51, 200, 25, 0.6), (201, 1000, 18, 0.9),
              (1001, 5000, 10, 1.0), (5001, 200000, 7, 1.0))  # (min, max, weight, latent fit weight)
SIZE_RANGE_LABELS = ("1-10", "11-50", "51-200", "201-1000", "1,001-5,000", "5000+")
EMPLOYEE_GARBAGE = ("lots", "n/a", "-5", "unknown", "0", "about 50", "500 employees", "TBD")
BANT = {  # positive answers first: a good-fit lead's answers lean to the front
    "budget": ("Yes", "approved", "Allocated", "yes", "not sure", "No", "no budget", "TBD"),
    "authority": ("decision_maker", "Yes", "Decision Maker", "influencer", "No", "no"),
    "need": ("urgent", "Yes", "yes", "exploring", "No", "just browsing"),
    "timeline": ("0-3 months", "this quarter", "3-6 months", "6-12 months", "12+ months", "no timeline"),
}
OWNERS = ("alice.wang", "bob.smith", "carla.mueller", "dan.lee", "eva.chen", "frank.ortiz", "grace.kim")
STATUSES = ("working", "contacted", "qualified", "nurturing", "unqualified", "converted")
USER_AGENTS = (  # shortened real user agents (the full ones double the size of raw.events)
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5) MicroMessenger/8.0.49",
    "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Firefox/129.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/128.0 Mobile",
)
BOT_AGENTS = ("python-requests/2.32.3", "Mozilla/5.0 (compatible; HeadlessChrome/128.0)", "curl/8.8.0",
              "Scrapy/2.11 (+https://scrapy.org)")
UTM_SOURCES = ("google", "linkedin", "newsletter", "baidu", "wechat", "bing", "twitter", "partner_portal")
UTM_MEDIUMS = ("cpc", "email", "social", "organic", "referral", "display")
UTM_CAMPAIGNS = ("q4_launch", "webinar_series", "ebook_scoring", "brand_2026", "cn_wechat_push", "retarget_pricing")
GENERAL_PAGES = (  # (path, weight)
    ("/", 12), ("/product/analytics", 8), ("/product/integrations", 6), ("/product/lead-scoring", 6),
    ("/resources/ebook-x", 5), ("/resources/whitepaper-b2b-scoring", 4), ("/resources/case-studies/acme", 3),
    ("/blog/lead-scoring-101", 5), ("/blog/mql-vs-sql", 4), ("/blog/b2b-attribution", 4),
    ("/blog/wechat-marketing-guide", 3), ("/blog/intent-data", 3), ("/about", 4), ("/contact", 3),
    ("/pricing", 2.5), ("/docs/api", 4), ("/security", 2), ("/partners", 2), ("/events", 2),
    ("/careers", 0.6), ("/jobs/123", 0.4),
)
BLOG_PAGES_CN = ("/cn", "/cn/chanpin", "/cn/ziyuan/baipishu", "/cn/jiage", "/cn/guanyu", "/cn/blog/siyu-yingxiao")
PRICE_TERMS = ("price", "pricing", "报价", "价格", "quote", "pricing plans", "Price", "价格表")
SEARCH_TERMS = ("api docs", "integration", "salesforce connector", "lead scoring", "address", "地址", "login",
                "webinar", "price", "careers", "how to export", "hubspot", "office address", "联系方式", "gdpr")
MALFORMED_JSON = ('{"utm_source":"google","duration_seconds":', "utm_source=google&utm_medium=cpc",
                  "{'utm_source': 'newsletter', 'duration_seconds': 12}", '{"owner":"dan.lee",}', "{}}")
UNKNOWN_EVENT_TYPES = ("chat_started", "app_install", "video_play")
EVENT_CHUNK = 8  # events per generator slot, see _Gen.event_slots_sql


# --------------------------------------------------------------------------------------------------
# SQL text helpers
# --------------------------------------------------------------------------------------------------
def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_list(values) -> str:
    """A DuckDB list literal of strings (or nested tuples of strings)."""
    return "[" + ", ".join(sql_list(v) if isinstance(v, (tuple, list)) else sql_str(v) for v in values) + "]"


def weighted_case(u: str, pairs) -> str:
    """CASE expression giving value i when the uniform `u` falls into the i-th slice of the weights."""
    pairs = list(pairs)
    total = float(sum(w for _, w in pairs))
    parts, acc = [], 0.0
    for value, weight in pairs[:-1]:
        acc += weight
        parts.append(f"WHEN {u} < {acc / total:.9f} THEN {value}")
    return f"(CASE {' '.join(parts)} ELSE {pairs[-1][0]} END)"


def _salt_id(seed: int, salt: str) -> int:
    """A stable 63-bit integer for (seed, salt): same on every machine and Python run."""
    return int(hashlib.sha256(f"datagen:{seed}:{salt}".encode()).hexdigest()[:16], 16) >> 1


def _stable_offset(seed: int, salt: str, modulus: int) -> int:
    digest = hashlib.sha256(f"{seed}:{salt}".encode()).hexdigest()
    return int(digest, 16) % modulus


class _Sql:
    """Seeded pseudo-random SQL expressions. `keys` are SQL expressions naming the row (e.g. "i", "k")."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def h(self, salt: str, *keys: str) -> str:
        """hash(<row key>, <salt id>): the salt id is a 63-bit integer derived from (seed, salt), which hashes
        about twice as fast as passing the seed and the salt text to hash() on every row."""
        return f"hash({', '.join(keys or ('i',))}, {_salt_id(self.seed, salt)})"

    def u(self, salt: str, *keys: str) -> str:
        """Uniform in [0, 1) with a resolution of 1e-6."""
        return f"(({self.h(salt, *keys)} % 1000000) / 1000000.0)"

    def uo(self, salt: str, *keys: str) -> str:
        """Uniform in the open interval (0, 1): safe for ln()."""
        return f"((({self.h(salt, *keys)} % 1000000) + 0.5) / 1000000.0)"

    def normal(self, salt: str, *keys: str) -> str:
        """Standard normal (Box-Muller)."""
        return (f"(sqrt(-2.0 * ln({self.uo(salt + '_a', *keys)})) "
                f"* cos(2.0 * pi() * {self.u(salt + '_b', *keys)}))")

    def idx(self, n: int | str, salt: str, *keys: str) -> str:
        """1-based index in 1..n."""
        return f"CAST(1 + {self.h(salt, *keys)} % {n} AS BIGINT)"

    def pick(self, values, salt: str, *keys: str) -> str:
        return f"{sql_list(values)}[{self.idx(len(values), salt, *keys)}]"

    def pick_expr(self, list_expr: str, salt: str, *keys: str) -> str:
        """Pick from a list-valued SQL expression of variable length."""
        return f"list_extract({list_expr}, {self.idx(f'len({list_expr})', salt, *keys)})"

    def every(self, modulus: int, salt: str, key: str = "i") -> str:
        """True for one row in `modulus` (exactly, by row number), at a seed-dependent phase."""
        return f"(({key} + {_stable_offset(self.seed, salt, modulus)}) % {modulus} = 0)"


def _ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return '"' + name + '"'


def _ts(sec_expr: str) -> str:
    """Epoch seconds (BIGINT expression) -> TIMESTAMP."""
    return f"make_timestamp(CAST({sec_expr} AS BIGINT) * 1000000)"


# --------------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------------
class _Gen:
    def __init__(self, con, leads, events_per_lead, days, seed, as_of, schema, latent_schema=None,
                 planted_truth=False):
        self.con = con
        self.planted = bool(planted_truth)
        self.lead_columns = LEADS_COLUMNS + (PLANTED_LEAD_COLUMNS if self.planted else ())
        self.tables = dict(TABLES, leads=self.lead_columns)
        self.n = int(leads)
        self.epl = float(events_per_lead)
        self.days = int(days)
        self.seed = int(seed)
        self.r = _Sql(seed)
        as_of_dt = parse_instant(as_of)
        self.as_of = int((as_of_dt - dt.datetime(1970, 1, 1)).total_seconds())
        self.schema = _ident(schema)
        self.latent_schema = _ident(latent_schema) if latent_schema else None
        if self.n < 0 or self.epl < 0 or self.days < 1:
            raise ValueError("leads and events_per_lead must be >= 0 and days >= 1")

    def run(self) -> dict:
        con, s = self.con, self.schema
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
        for table, columns in self.tables.items():
            con.execute(f"DROP TABLE IF EXISTS {s}.{table}")
            cols = ", ".join(f"{_ident(c)} {t}" for c, t in columns)
            con.execute(f"CREATE TABLE {s}.{table} ({cols})")
        con.execute(self.accounts_sql())
        con.execute(self.lead_base_sql())
        if self.planted:
            con.execute(self.planted_lead_sql())
        con.execute(self.leads_sql())
        con.execute(self.event_slots_sql())
        con.execute(self.events_sql())
        con.execute("DROP TABLE IF EXISTS _dg_event_slots")
        if self.planted:
            con.execute(self.planted_events_sql())
        con.execute(self.bursts_sql())
        con.execute(self.opportunities_sql())
        if self.latent_schema:
            ls = self.latent_schema
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {ls}")
            con.execute(f"DROP TABLE IF EXISTS {ls}.lead_latent")
            con.execute(
                f"CREATE TABLE {ls}.lead_latent AS SELECT lead_id, fit_latent, eng_z, quality, has_opp, "
                f"n_events, sen_bucket, email_kind, lead_source, is_deleted_latest FROM _dg_lead ORDER BY i")
            con.execute(f"DROP TABLE IF EXISTS {ls}.lead_planted")
            if self.planted:
                con.execute(self.lead_planted_sql(ls))
        counts = {t: con.execute(f"SELECT count(*) FROM {s}.{t}").fetchone()[0] for t in TABLES}
        con.execute("DROP TABLE IF EXISTS _dg_lead")
        con.execute("DROP TABLE IF EXISTS _dg_acct")
        return counts

    # -- accounts: companies with 1-12 leads ------------------------------------------------------
    def accounts_sql(self) -> str:
        r, n = self.r, self.n
        size_case = weighted_case(r.u("acct_size", "a"), [
            (1, 40), (2, 15), (3, 11), (4, 8), (5, 6), (6, 5), (7, 4), (8, 3), (9, 2.5), (10, 2), (11, 1.5), (12, 2)])
        cty_case = weighted_case("u_cty", [(j + 1, c[1]) for j, c in enumerate(COUNTRIES)])
        ind_case = weighted_case("u_ind", [(j + 1, x[1]) for j, x in enumerate(INDUSTRIES)])
        szb_case = weighted_case("u_sz", [(j + 1, b[2]) for j, b in enumerate(SIZE_BANDS)])
        lo = "[" + ", ".join(str(b[0]) for b in SIZE_BANDS) + "]"
        hi = "[" + ", ".join(str(b[1]) for b in SIZE_BANDS) + "]"
        langs = "[" + ", ".join(str(c[4]) for c in COUNTRIES) + "]"
        o1, o2 = _stable_offset(self.seed, "b1", 40), _stable_offset(self.seed, "b2", 40)
        tld = (f"CASE WHEN cty = 2 THEN {r.pick(('cn', 'com.cn'), 'tld_cn', 'a')} WHEN cty = 3 THEN 'de' "
               f"WHEN cty = 4 THEN 'co.uk' ELSE {r.pick(('com',) * 6 + ('io', 'ai', 'net'), 'tld', 'a')} END")
        suffix = (f"CASE WHEN lang = 3 THEN {r.pick(('GmbH', 'AG', 'GmbH & Co. KG'), 'sfx_de', 'a')} "
                  f"WHEN cty = 4 THEN 'Ltd' ELSE {r.pick(('Inc.', 'Inc', 'LLC', 'Corp.', 'Group', 'Technologies'), 'sfx', 'a')} END")
        return f"""
        CREATE OR REPLACE TEMP TABLE _dg_acct AS
        WITH s AS (
            SELECT a, CASE WHEN a = 2 THEN 4 ELSE {size_case} END AS size FROM range({n}) t(a)
        ), c AS (
            SELECT a, size, CAST(sum(size) OVER (ORDER BY a ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - size AS BIGINT) AS start
            FROM s
        ), f AS (
            SELECT a, start, CAST(least(size, {n} - start) AS BIGINT) AS size,
                   {r.u('a_cty', 'a')} AS u_cty, {r.u('a_ind', 'a')} AS u_ind, {r.u('a_sz', 'a')} AS u_sz,
                   {r.u('a_n', 'a')} AS u_n, {r.u('a_rpe', 'a')} AS u_rpe, {r.u('a_seg', 'a')} AS u_seg
            FROM c WHERE start < {n}
        ), g AS (
            SELECT *, {cty_case} AS cty, {ind_case} AS ind, {szb_case} AS szb FROM f
        ), h AS (
            SELECT *, {langs}[cty] AS lang,
                   CAST(least({hi}[szb], floor(exp(ln({lo}[szb]) + u_n * (ln({hi}[szb] + 1) - ln({lo}[szb]))))) AS BIGINT) AS employees,
                   {sql_list(BRAND_1)}[CAST(1 + (a + {o1}) % 40 AS BIGINT)] AS w1,
                   {sql_list(BRAND_2)}[CAST(1 + (a // 40 + {o2}) % 40 AS BIGINT)] AS w2,
                   a // 1600 AS wn
            FROM g
        )
        SELECT a, start, size, cty, ind, szb, lang, employees,
               employees * exp(ln(40000) + u_rpe * (ln(400000) - ln(40000))) AS revenue,
               CASE WHEN a = 2 THEN 'acme-partner.com'
                    ELSE lower(w1 || w2) || CASE WHEN wn > 0 THEN CAST(wn AS VARCHAR) ELSE '' END || '.' || ({tld}) END AS domain,
               CASE WHEN a = 2 THEN 'Acme Partner GmbH'
                    WHEN lang = 2 AND {r.u('zh_name', 'a')} < 0.7
                        THEN {r.pick(ZH_CITY, 'zh_city', 'a')} || {r.pick(ZH_BRAND, 'zh_brand', 'a')} || '科技有限公司'
                    ELSE w1 || w2 || CASE WHEN wn > 0 THEN ' ' || CAST(wn AS VARCHAR) ELSE '' END || ' ' || ({suffix}) END AS company,
               CASE WHEN employees >= 1001 THEN 'strategic' WHEN employees >= 51 THEN 'growth' ELSE 'standard' END AS segment
        FROM h
        """

    # -- one row per lead with its latent traits and its current (latest) attributes ---------------
    def lead_base_sql(self) -> str:
        r, n, as_of, days = self.r, self.n, self.as_of, self.days
        src_case = weighted_case("u_src", [(j + 1, x[1]) for j, x in enumerate(LEAD_SOURCES)])
        src_names = sql_list([x[0] for x in LEAD_SOURCES])
        src_q = "[" + ", ".join(str(x[2]) for x in LEAD_SOURCES) + "]"
        sen_case = weighted_case("pow(u_sen, exp(1.5 * q))", SENIORITY_DRAW)
        sen_w = "[" + ", ".join(str(t[1]) for t in TITLES) + "]"
        titles = sql_list([[t[2], t[3], t[4]] for t in TITLES])
        # email kinds: 1 business, 2 business padded/upper-case (still valid), 3 personal, 4 invalid, 5 competitor
        email_case = weighted_case("pow(u_em, exp(1.0 * q))", [(1, 77), (2, 3), (3, 15), (4, 3), (5, 1)])
        ind_w = "[" + ", ".join(str(x[2]) for x in INDUSTRIES) + "]"
        ind_labels = sql_list([[x[3], x[4], x[5]] for x in INDUSTRIES])
        size_w = "[" + ", ".join(str(b[3]) for b in SIZE_BANDS) + "]"
        cty_labels = sql_list([c[2] for c in COUNTRIES])
        cty_cities = sql_list([c[3] for c in COUNTRIES])
        first_d = sql_list([[x[0] for x in FIRST_NAMES[k]] for k in (EN, ZH, DE)])
        first_a = sql_list([[x[1] for x in FIRST_NAMES[k]] for k in (EN, ZH, DE)])
        last_d = sql_list([[x[0] for x in LAST_NAMES[k]] for k in (EN, ZH, DE)])
        last_a = sql_list([[x[1] for x in LAST_NAMES[k]] for k in (EN, ZH, DE)])
        personal = sql_list([PERSONAL_DOMAINS[k] for k in (EN, ZH, DE)])
        comp_domains = sql_list([c[0] for c in COMPETITORS])
        comp_names = sql_list([c[1] for c in COMPETITORS])

        def vary_case(expr: str, salt: str) -> str:
            """Realistic case / padding noise on a label (spaces only: SQL trim() and the oracle agree)."""
            v = r.u(salt)
            return (f"(CASE WHEN {v} < 0.62 THEN {expr} WHEN {v} < 0.77 THEN lower({expr}) "
                    f"WHEN {v} < 0.85 THEN upper({expr}) WHEN {v} < 0.93 THEN '  ' || {expr} || ' ' "
                    f"ELSE {expr} || '  ' END)")

        def bant(field: str) -> str:
            values = BANT[field]
            u_pos = f"pow({r.u('bant_' + field)}, exp(2.0 * (fit_latent - 0.5)))"
            answer = f"{sql_list(values)}[CAST(1 + least({len(values) - 1}, floor({u_pos} * {len(values)})) AS BIGINT)]"
            return f"CASE WHEN {r.u('bant_has_' + field)} < p_bant THEN {answer} END AS {field}"

        label_lang = (f"CASE WHEN lang = 2 AND {r.u('ind_lang')} < 0.7 THEN 2 "
                      f"WHEN lang = 3 AND {r.u('ind_lang')} < 0.5 THEN 3 ELSE 1 END")
        name_lang = (f"CASE WHEN lang = 2 AND {r.u('name_lang')} < 0.75 THEN 2 "
                     f"WHEN lang = 3 AND {r.u('name_lang')} < 0.7 THEN 3 ELSE 1 END")
        title_lang = (f"CASE WHEN lang = 2 AND {r.u('title_lang')} < 0.65 THEN 2 "
                      f"WHEN lang = 3 AND {r.u('title_lang')} < 0.5 THEN 3 ELSE 1 END")
        company_domain_raw = (
            f"CASE WHEN u_cd < 0.15 THEN NULL WHEN u_cd < 0.18 THEN '' WHEN u_cd < 0.20 THEN '  ' "
            f"WHEN u_cd < 0.85 THEN cdom WHEN u_cd < 0.90 THEN 'https://www.' || cdom || '/about' "
            f"WHEN u_cd < 0.93 THEN 'www.' || cdom WHEN u_cd < 0.96 THEN upper(cdom) "
            f"WHEN u_cd < 0.98 THEN 'http://' || cdom || '/' ELSE 'https://' || cdom END")
        biz_local = (f"CASE WHEN u_fmt < 0.60 THEN fa || '.' || la WHEN u_fmt < 0.75 THEN left(fa, 1) || la "
                     f"WHEN u_fmt < 0.85 THEN fa WHEN u_fmt < 0.95 THEN fa || la ELSE fa || '_' || la END")
        invalid_email = weighted_case(r.u("inv_kind"), [
            ("'not-an-email'", 1), ("'a@b'", 1), ("fa || '.' || la || '@'", 1), ("'@' || edom", 1),
            ("fa || ' ' || la || '@' || edom", 1), ("fa || '@localhost'", 1), ("'N/A'", 1), ("''", 1),
            ("NULL", 1), ("fa || '.' || la || '@' || edom || '.'", 1)])
        personal_email = (f"CASE WHEN pdom = 'qq.com' THEN CAST(10000000 + {r.h('qq')} % 2000000000 AS VARCHAR) || '@qq.com' "
                          f"ELSE fa || '.' || la || CASE WHEN {r.u('pnum')} < 0.5 THEN CAST({r.h('pn')} % 100 AS VARCHAR) ELSE '' END "
                          f"|| '@' || pdom END")
        big_name = sql_str(("Very Long Company Name International Holdings " * 250)[:10000])
        employee_raw = (
            f"CASE WHEN u_ec < 0.42 THEN CAST(employees AS VARCHAR) "
            f"WHEN u_ec < 0.50 THEN CASE WHEN employees >= 1000 THEN CAST(employees // 1000 AS VARCHAR) || ',' || "
            f"lpad(CAST(employees % 1000 AS VARCHAR), 3, '0') ELSE CAST(employees AS VARCHAR) END "
            f"WHEN u_ec < 0.66 THEN CASE WHEN employees >= 10000 THEN {r.pick(('10,000+', '10000+', '10000'), 'ec_big')} "
            f"WHEN szb = 5 AND {r.u('ec_1k')} < 0.5 THEN '1,000+' ELSE {sql_list(SIZE_RANGE_LABELS)}[szb] END "
            f"WHEN u_ec < 0.82 THEN NULL WHEN u_ec < 0.84 THEN '' "
            f"WHEN u_ec < 0.88 THEN {r.pick(EMPLOYEE_GARBAGE, 'ec_garbage')} ELSE CAST(employees AS VARCHAR) END")
        future_created = r.every(1499, "future_created")
        upd_before = r.every(1201, "updated_before_created")
        tie = r.every(331, "version_tie")
        return f"""
        CREATE OR REPLACE TEMP TABLE _dg_lead AS
        WITH l AS (
            SELECT acc.*, unnest(range(start, start + size)) AS i FROM _dg_acct acc
        ), u AS (
            SELECT l.*, printf('L%08d', i + 1) AS lead_id,
                   {r.u('src')} AS u_src, {r.u('sen')} AS u_sen, {r.u('em')} AS u_em, {r.u('cd')} AS u_cd,
                   {r.u('fmt')} AS u_fmt, {r.u('ec')} AS u_ec, {r.u('rev')} AS u_rev, {r.u('ind')} AS u_ind2,
                   {r.u('cty')} AS u_cty2, {r.normal('z_eng')} AS z_eng, {r.normal('z_rec')} AS z_rec,
                   {r.u('opp')} AS u_opp, {r.u('del')} AS u_del, {r.u('nev')} AS u_nev, {r.u('ver')} AS u_ver,
                   {name_lang} AS nlang, {title_lang} AS tlang, {label_lang} AS ilang
            FROM l
        ), s AS (
            SELECT *, {src_case} AS src FROM u
        ), t AS (
            SELECT *, {src_names}[src] AS lead_source_clean, {src_q}[src] AS q FROM s
        ), p AS (
            SELECT *, {sen_case} AS sen_bucket, {email_case} AS email_kind,
                   {r.idx(f'len({first_d}[nlang])', 'first')} AS fidx,
                   {r.idx(f'len({last_d}[nlang])', 'last')} AS lidx,
                   {r.pick_expr(f'{personal}[lang]', 'pdom')} AS pdom,
                   {r.idx(len(COMPETITORS), 'comp')} AS comp
            FROM t
        ), p2 AS (
            SELECT *,
                   {first_d}[nlang][fidx] AS first_disp, {first_a}[nlang][fidx] AS fa,
                   {last_d}[nlang][lidx] AS last_disp, {last_a}[nlang][lidx] AS la,
                   CASE WHEN email_kind = 5 THEN {comp_domains}[comp] ELSE domain END AS cdom
            FROM p
        ), q AS (
            SELECT *,
                   -- latent fit in [-0.4, 1]: industry, size, seniority, email type
                   0.25 * {ind_w}[ind] + 0.25 * {size_w}[szb]
                   + 0.30 * CASE WHEN sen_bucket = 0 THEN {TITLE_NULL_WEIGHT} ELSE {sen_w}[sen_bucket] END
                   + 0.20 * [1.0, 1.0, 0.25, 0.0, -1.0][email_kind] AS fit_latent,
                   CASE WHEN email_kind = 5 THEN cdom ELSE domain END AS edom
            FROM p2
        ), e AS (
            SELECT *,
                   0.85 * z_eng + 0.8 * (fit_latent - 0.45) + q AS eng_z,
                   {future_created} AS is_future_created,
                   {upd_before} AS is_updated_before_created,
                   {tie} AND NOT {future_created} AND NOT {upd_before} AS is_tie,
                   email_kind NOT IN (4, 5) AND {r.every(877, 'example_com')} AS is_example
            FROM q
        ), f AS (
            SELECT *,
                   -5.8 + 4.5 * fit_latent + 1.1 * eng_z AS opp_logit,
                   greatest(0.2, least(5.0, exp(-0.5 * eng_z + 0.5 * z_rec))) AS rexp,
                   u_del < 0.02 AS is_deleted_latest,
                   CASE WHEN lead_source_clean IN ('webinar', 'event', 'referral', 'partner') THEN 0.5 ELSE 0.2 END AS p_bant,
                   CASE WHEN is_future_created THEN {as_of} + 3600 + CAST({r.u('fut')} * 20 * 86400 AS BIGINT)
                        ELSE {as_of} - 60 - CAST(pow({r.u('created')}, 1.15) * {days} * 86400 AS BIGINT) END AS created_sec
            FROM e
        ), g AS (
            SELECT *,
                   1.0 / (1.0 + exp(-opp_logit)) AS quality,
                   exp(eng_z) AS w_events,
                   -- the mean weight from an integer sum: exact, so independent of how threads split the sum
                   CAST(sum(CAST(round(exp(eng_z) * 1000000) AS BIGINT)) OVER () AS DOUBLE) / 1000000.0
                       / count(*) OVER () AS mean_w
            FROM f
        ), h AS (
            SELECT *,
                   u_opp < quality AND email_kind NOT IN (4, 5) AND NOT is_example AND NOT is_deleted_latest
                       AND NOT is_future_created AND sen_bucket <> 6 AS has_opp,
                   CAST(least(50 * {self.epl} + 50, floor({self.epl} * w_events / mean_w + u_nev)) AS BIGINT) AS n_events
            FROM g
        )
        SELECT
            i, a, lead_id, lang, tlang, ilang, ind, szb, cty, employees, sen_bucket, email_kind, fit_latent, eng_z,
            quality, has_opp, n_events, rexp, is_deleted_latest, is_future_created, is_updated_before_created,
            is_tie, is_example, lead_source_clean AS lead_source, created_sec,
            -- engagement propensities used by the event generator
            0.002 + 0.05 / (1.0 + exp(-(3.0 * (fit_latent - 0.5) + 1.3 * eng_z - 1.5))) AS p_int,
            CASE WHEN has_opp THEN 0.06 WHEN {r.u('worked')} < 0.3 * quality THEN 0.03 ELSE 0.0 END AS p_sales,
            CASE WHEN sen_bucket = 6 THEN 0.15 WHEN sen_bucket IN (5, 7) THEN 0.03 ELSE 0.004 END AS p_job,
            email_kind = 4 AS email_bad,
            {r.pick(OWNERS, 'owner')} AS owner,
            -- versions: ~7% have 2, ~3% have 3; ties always 2
            CASE WHEN is_tie THEN 2 WHEN is_future_created OR is_updated_before_created THEN 1
                 WHEN u_ver < 0.07 THEN 2 WHEN u_ver < 0.10 THEN 3 ELSE 1 END AS n_versions,
            {r.u('nullid')} < 0.005 AS has_null_id_copy,
            -- latest attributes (raw text as landed)
            CASE WHEN is_example THEN 'test.user' || CAST(i AS VARCHAR) || '@example.com'
                 WHEN email_kind IN (1, 5) THEN {biz_local} || '@' || edom
                 WHEN email_kind = 2 THEN '  ' || first_disp_ascii_cap || '@' || upper(edom) || ' '
                 WHEN email_kind = 3 THEN {personal_email}
                 ELSE {invalid_email} END AS email,
            CASE WHEN i = {n} - 2 THEN 'Zoë 😀' WHEN i = {n} - 3 THEN 'x''); drop table leads; --'
                 WHEN {r.u('fn_null')} < 0.01 THEN NULL ELSE first_disp END AS first_name,
            CASE WHEN {r.u('ln_null')} < 0.02 THEN NULL ELSE last_disp END AS last_name,
            CASE WHEN sen_bucket = 0 THEN CASE WHEN {r.u('title_empty')} < 0.2 THEN '' ELSE NULL END
                 ELSE {vary_case(r.pick_expr(f'{titles}[sen_bucket][tlang]', 'title'), 'title_case')} END AS job_title,
            CASE WHEN i = {n} - 1 THEN {big_name} WHEN i = {n} - 2 THEN '🚀 Rocket Rides 🦄 Inc.'
                 WHEN is_example THEN 'Example Corp' WHEN email_kind = 5 THEN {comp_names}[comp]
                 WHEN {r.u('cn_null')} < 0.05 THEN NULL WHEN {r.u('cn_lower')} < 0.05 THEN lower(company)
                 ELSE company END AS company_name,
            CASE WHEN is_example THEN CASE WHEN {r.u('ex_dom')} < 0.5 THEN 'example.com' END
                 WHEN email_kind = 3 AND {r.u('pers_dom')} < 0.5 THEN NULL
                 ELSE {company_domain_raw} END AS company_domain,
            CASE WHEN u_ind2 < 0.04 THEN NULL WHEN u_ind2 < 0.05 THEN ''
                 WHEN u_ind2 < 0.08 THEN {r.pick(UNMAPPED_INDUSTRIES, 'ind_unmapped')}
                 ELSE {vary_case(r.pick_expr(f'{ind_labels}[ind][ilang]', 'ind_label'), 'ind_case')} END AS industry,
            {employee_raw} AS employee_count,
            CASE WHEN u_rev < 0.40 THEN NULL WHEN u_rev < 0.42 THEN -round(revenue / 1000) * 1000
                 WHEN u_rev < 0.425 THEN 1e15 WHEN u_rev < 0.43 THEN 0.0
                 ELSE round(revenue / 1000) * 1000 END AS annual_revenue,
            CASE WHEN u_cty2 < 0.03 THEN NULL WHEN u_cty2 < 0.05 THEN {r.pick(UNMAPPED_COUNTRIES, 'cty_unmapped')}
                 ELSE {vary_case(r.pick_expr(f'{cty_labels}[cty]', 'cty_label'), 'cty_case')} END AS country,
            CASE WHEN {r.u('city_null')} < 0.08 THEN NULL ELSE {r.pick_expr(f'{cty_cities}[cty]', 'city')} END AS city,
            CASE WHEN {r.u('src_null')} < 0.02 THEN NULL WHEN {r.u('src_other')} < 0.01 THEN 'other'
                 ELSE {vary_case('lead_source_clean', 'src_case')} END AS lead_source_raw,
            {bant('budget')}, {bant('authority')}, {bant('need')}, {bant('timeline')},
            CASE WHEN {r.u('seg_null')} < 0.3 THEN NULL ELSE segment END AS crm_segment
        FROM (SELECT *, upper(left(fa, 1)) || substr(fa, 2) || '.' || upper(left(la, 1)) || substr(la, 2)
                        AS first_disp_ascii_cap FROM h)
        """

    # -- the planted truth: new draws on top of _dg_lead (only with planted_truth) ----------------------
    def planted_lead_sql(self) -> str:
        """Rewrite _dg_lead with the planted drivers: each lead's conversion odds come from PT_LOGIT (plus
        today's latent traits at reduced weight for business leads), consumers lose their company fields, and
        the planted custom columns are drawn. Every draw has a salt of its own ('pt_...'): nothing drawn here
        moves a draw of the flag-off generator, and u_opp / u_worked are today's draws, re-read."""
        r, as_of = self.r, self.as_of
        L, B = PT_LOGIT, PT_B2B_BASE
        software = 1 + [x[0] for x in INDUSTRIES].index("software")
        director_plus = ", ".join(str(1 + [t[0] for t in TITLES].index(b)) for b in DIRECTOR_PLUS)

        def vary_case(expr: str, salt: str) -> str:
            v = r.u(salt)
            return (f"(CASE WHEN {v} < 0.55 THEN {expr} WHEN {v} < 0.75 THEN lower({expr}) "
                    f"WHEN {v} < 0.85 THEN upper({expr}) WHEN {v} < 0.95 THEN '  ' || {expr} || ' ' "
                    f"ELSE {expr} || '  ' END)")

        plan_missing = weighted_case(r.u("pt_plan_missing"), [
            ("NULL", 55), ("''", 12), ("'N/A'", 12), ("'n/a'", 6), ("'-'", 7), ("'Select'", 8)])
        seats_missing = weighted_case(r.u("pt_seats_missing"), [("NULL", 80), ("''", 10), ("'N/A'", 10)])
        fv = r.pick(("A", "B", "C"), "pt_fv")
        lo, hi = PT_SEATS
        return f"""
        CREATE OR REPLACE TEMP TABLE _dg_lead AS
        WITH pt AS (
            SELECT *,
                   email_kind = 3 AND {r.u('pt_consumer')} < {PT_SHARE_CONSUMER} AS is_consumer,
                   {r.u('pt_plan')} AS u_plan, {r.u('pt_seats_has')} AS u_seats_has, {r.u('pt_seats')} AS u_seats,
                   {r.u('opp')} AS u_opp, {r.u('worked')} AS u_worked
            FROM _dg_lead
        ), pv AS (
            SELECT *,
                   CASE WHEN is_consumer THEN NULL WHEN u_plan < 0.15 THEN 'enterprise'
                        WHEN u_plan < 0.40 THEN 'professional' WHEN u_plan < 0.65 THEN 'starter' END AS plan_clean,
                   -- log-uniform in 1..4999: about 27% fall in [{lo}, {hi}]
                   CASE WHEN is_consumer OR u_seats_has < 0.2 THEN NULL
                        ELSE CAST(floor(exp(u_seats * ln(5000))) AS BIGINT) END AS seats,
                   NOT is_consumer AND {r.u('pt_market')} < {PT_SHARE_IN_MARKET} AS in_market,
                   NOT is_consumer AND {r.u('pt_deep')} < {PT_SHARE_DEEP_READER} AS deep_reader,
                   is_consumer AND {r.u('pt_webinar')} < {PT_SHARE_WEBINAR} AS webinar_attendee,
                   NOT is_consumer AND ind = {software} AND sen_bucket IN ({director_plus}) AS software_director_plus
            FROM pt
        ), pl AS (
            SELECT *,
                   CASE WHEN is_consumer THEN {PT_CONSUMER_INTERCEPT} + {L['consumer_webinar']} * CAST(webinar_attendee AS INTEGER)
                        ELSE {B['intercept']} + {B['fit_latent']} * fit_latent + {B['eng_z']} * eng_z
                             + CASE plan_clean WHEN 'enterprise' THEN {L['enterprise']} WHEN 'starter' THEN {L['starter']} ELSE 0 END
                             + {L['seats_in_range']} * CAST(coalesce(seats BETWEEN {lo} AND {hi}, false) AS INTEGER)
                             + {L['software_director_plus']} * CAST(software_director_plus AS INTEGER)
                             + {L['in_market']} * CAST(in_market AS INTEGER)
                             + {L['deep_reader']} * CAST(deep_reader AS INTEGER) END AS planted_logit
            FROM pv
        ), pq AS (
            SELECT *, 1.0 / (1.0 + exp(-planted_logit)) AS p_quality FROM pl
        ), ph AS (
            -- the same eligibility as lead_base_sql's has_opp: no opportunity for invalid or competitor emails,
            -- test leads, deleted or future leads, students
            SELECT *, u_opp < p_quality AND email_kind NOT IN (4, 5) AND NOT is_example AND NOT is_deleted_latest
                          AND NOT is_future_created AND sen_bucket <> 6 AS p_has_opp
            FROM pq
        )
        SELECT * EXCLUDE (u_plan, u_seats_has, u_seats, u_opp, u_worked, p_quality, p_has_opp) REPLACE (
                   p_quality AS quality,
                   p_has_opp AS has_opp,
                   CASE WHEN p_has_opp THEN 0.06 WHEN u_worked < 0.3 * p_quality THEN 0.03 ELSE 0.0 END AS p_sales,
                   CASE WHEN is_consumer THEN NULL ELSE company_name END AS company_name,
                   CASE WHEN is_consumer THEN NULL ELSE company_domain END AS company_domain,
                   CASE WHEN is_consumer THEN NULL ELSE industry END AS industry,
                   CASE WHEN is_consumer THEN NULL ELSE employee_count END AS employee_count,
                   CASE WHEN is_consumer THEN NULL ELSE annual_revenue END AS annual_revenue,
                   CASE WHEN is_consumer THEN NULL ELSE crm_segment END AS crm_segment),
               created_sec + CAST((0.05 + 0.9 * {r.u('pt_opp_created')}) * greatest(3600, {as_of} - created_sec) AS BIGINT) AS opp_sec,
               CASE WHEN plan_clean IS NULL THEN {plan_missing}
                    ELSE {vary_case("upper(left(plan_clean, 1)) || substr(plan_clean, 2)", 'pt_plan_case')} END AS plan_interest,
               CASE WHEN seats IS NULL THEN {seats_missing}
                    WHEN {r.u('pt_seats_pad')} < 0.05 THEN ' ' || CAST(seats AS VARCHAR) || ' '
                    ELSE CAST(seats AS VARCHAR) END AS seats_requested,
               CASE WHEN is_consumer THEN {vary_case("'Consumer'", 'pt_ct_case')}
                    WHEN {r.u('pt_ct')} < 0.70 THEN {vary_case("'Business'", 'pt_ct_case')}
                    WHEN {r.u('pt_ct')} < 0.85 THEN NULL ELSE 'B2B' END AS customer_type,
               CASE WHEN {r.u('pt_fv_null')} < 0.1 THEN NULL
                    WHEN {r.u('pt_fv_case')} < 0.15 THEN lower({fv}) ELSE {fv} END AS form_variant,
               CASE WHEN {r.u('pt_survey_null')} < 0.55 THEN NULL
                    ELSE CAST({r.h('pt_survey')} % 11 AS VARCHAR) END AS survey_score
        FROM ph
        """

    def planted_events_sql(self) -> str:
        """The planted events: demo_request bursts of in-market leads, webinar attendance of consumer
        attendees, and sms_click noise. A converter's burst lies just before its (first) opportunity; a
        non-converter's at a random time, ending PT_COLD_DAYS before as_of when the lead is that old."""
        r, as_of = self.r, self.as_of
        K = ("i", "k")
        day = 86400
        ua = r.pick(USER_AGENTS, "pt_ua", *K)
        return f"""
        INSERT INTO {self.schema}.events ({self.event_columns_sql()})
        WITH l AS (
            SELECT i, lead_id, created_sec, opp_sec, has_opp, in_market, webinar_attendee,
                   least(created_sec, {as_of} - {day}) AS t0
            FROM _dg_lead
        ), intent AS (
            SELECT i, k, lead_id, 'int' AS src, 'demo_request' AS event_type, 'website' AS channel,
                   CASE WHEN has_opp
                        THEN opp_sec - 600 - CAST({r.u('pt_int_t', *K)} * least({PT_INTENT_DAYS * day}, greatest(3600, opp_sec - created_sec)) AS BIGINT)
                        ELSE least({as_of} - 60, t0 + CAST({r.u('pt_int_c')} * greatest(0, {as_of} - {PT_COLD_DAYS * day} - t0) AS BIGINT)
                                                 + CAST({r.u('pt_int_t', *K)} * {PT_INTENT_DAYS * day} AS BIGINT)) END AS occ,
                   'https://www.vendor.com/demo' AS page_url,
                   concat('{{"duration_seconds":', 2 + {r.h('pt_int_dur', *K)} % 600, ',"user_agent":"', {ua}, '"}}') AS properties
            FROM (SELECT *, unnest(range(CAST(1 + {r.h('pt_int_n')} % 3 AS BIGINT))) AS k FROM l WHERE in_market)
        ), webinar AS (
            SELECT i, k, lead_id, 'web' AS src, 'webinar_attend' AS event_type, 'website' AS channel,
                   CASE WHEN has_opp
                        THEN opp_sec - 3600 - CAST({r.u('pt_web_t', *K)} * least({PT_WEBINAR_DAYS * day}, greatest(3600, opp_sec - created_sec)) AS BIGINT)
                        ELSE t0 + CAST({r.u('pt_web_t', *K)} * ({as_of} - 60 - t0) AS BIGINT) END AS occ,
                   NULL AS page_url, '{{"source":"website"}}' AS properties
            FROM (SELECT *, unnest(range(CAST(1 + {r.h('pt_web_n')} % 2 AS BIGINT))) AS k FROM l WHERE webinar_attendee)
        ), sms AS (
            SELECT i, k, lead_id, 'sms' AS src, 'sms_click' AS event_type, 'sms' AS channel,
                   t0 + CAST({r.u('pt_sms_t', *K)} * ({as_of} - 60 - t0) AS BIGINT) AS occ,
                   NULL AS page_url,
                   concat('{{"campaign":"sms_2026_w', 1 + {r.h('pt_sms_cmp', *K)} % 52, '","message_id":"s-',
                          {r.h('pt_sms_msg', *K)} % 100000, '"}}') AS properties
            FROM (SELECT *, unnest(range(CAST(CASE WHEN {r.u('pt_sms')} < 0.55 THEN 0 ELSE 1 + {r.h('pt_sms_n')} % 3 END AS BIGINT))) AS k
                  FROM l)
        ), a AS (
            SELECT * FROM intent UNION ALL SELECT * FROM webinar UNION ALL SELECT * FROM sms
        )
        SELECT concat('evp_', src, '_', i, '_', k), lead_id, event_type, channel, {_ts('occ')}, page_url, NULL,
               properties, {_ts(f"least({as_of}, occ + 5 + {r.h('pt_load', 'i', 'k', 'src')} % 900)")}
        FROM a
        """

    def lead_planted_sql(self, latent_schema: str) -> str:
        """Per-lead planted driver flags, for tests (never in the raw schema)."""
        lo, hi = PT_SEATS
        return f"""
        CREATE TABLE {latent_schema}.lead_planted AS
        SELECT lead_id, is_consumer, plan_clean AS plan_interest, seats AS seats_requested,
               coalesce(seats BETWEEN {lo} AND {hi}, false) AS seats_in_range, software_director_plus, in_market,
               deep_reader, webinar_attendee, planted_logit, quality, has_opp,
               CASE WHEN has_opp THEN {_ts('opp_sec')} END AS opp_created_at
        FROM _dg_lead ORDER BY i
        """

    # -- raw.leads: versions, ties, deletes, null ids ---------------------------------------------
    def leads_sql(self) -> str:
        r, as_of = self.r, self.as_of
        titles = sql_list([[t[2], t[3], t[4]] for t in TITLES])
        ind_labels = sql_list([[x[3], x[4], x[5]] for x in INDUSTRIES])
        cols = ", ".join(_ident(c) for c, _ in self.lead_columns)
        planted = "".join(f", {_ident(c)}" for c, _ in PLANTED_LEAD_COLUMNS) if self.planted else ""
        return f"""
        INSERT INTO {self.schema}.leads ({cols})
        WITH v AS (
            SELECT b.*, unnest(CASE WHEN has_null_id_copy THEN list_append(range(n_versions), -1)
                                    ELSE range(n_versions) END) AS v
            FROM _dg_lead b
        ), t AS (
            SELECT *,
                   v = -1 OR v = n_versions - 1 AS is_latest,
                   CASE WHEN is_updated_before_created THEN created_sec - 3600 - CAST({r.u('ubc')} * 5 * 86400 AS BIGINT)
                        WHEN is_future_created THEN created_sec
                        ELSE created_sec + CAST(pow({r.u('upd')}, 1.5) * greatest(0, {as_of} - created_sec) AS BIGINT)
                   END AS upd_latest,
                   CASE WHEN {r.u('lead_late')} < 0.03 THEN 86400 + CAST({r.u('lead_lag_late')} * 6 * 86400 AS BIGINT)
                        ELSE 30 + CAST({r.u('lead_lag')} * 3 * 3600 AS BIGINT) END AS lag
            FROM v
        ), w AS (
            SELECT *,
                   CASE WHEN is_latest OR is_tie THEN upd_latest
                        ELSE created_sec + (upd_latest - created_sec) * v // (n_versions - 1) END AS upd_sec
            FROM t
        )
        SELECT
            CASE WHEN v = -1 THEN NULL ELSE lead_id END,
            email, first_name, last_name,
            CASE WHEN is_latest THEN job_title
                 WHEN is_tie OR {r.u('old_title', 'i', 'v')} < 0.45
                     THEN {r.pick_expr(f'{titles}[greatest(sen_bucket, 1)][tlang]', 'old_title_pick', 'i', 'v')}
                 WHEN {r.u('old_title_null', 'i', 'v')} < 0.3 THEN NULL ELSE job_title END,
            company_name, company_domain,
            CASE WHEN is_latest THEN industry
                 WHEN {r.u('old_ind', 'i', 'v')} < 0.3 THEN NULL
                 WHEN {r.u('old_ind2', 'i', 'v')} < 0.5 THEN {r.pick_expr(f'{ind_labels}[ind][ilang]', 'old_ind_pick', 'i', 'v')}
                 ELSE industry END,
            CASE WHEN is_latest THEN employee_count
                 WHEN {r.u('old_ec', 'i', 'v')} < 0.5 THEN NULL ELSE employee_count END,
            CASE WHEN is_latest THEN annual_revenue
                 WHEN is_tie AND {r.u('tie_rev')} < 0.5 THEN coalesce(annual_revenue, 0) + 1000
                 ELSE annual_revenue END,
            country, city, lead_source_raw,
            CASE WHEN is_latest THEN budget END, CASE WHEN is_latest THEN authority END,
            CASE WHEN is_latest THEN need END, CASE WHEN is_latest THEN timeline END,
            {_ts('created_sec')},
            {_ts('upd_sec')},
            CASE WHEN is_latest THEN is_deleted_latest
                 WHEN is_tie THEN {r.u('tie_del')} < 0.33
                 ELSE {r.u('old_del', 'i', 'v')} < 0.005 END,
            {_ts(f"CASE WHEN v = -1 THEN least({as_of}, upd_sec + lag + 600) "
                 f"WHEN is_future_created THEN {as_of} - CAST({r.u('fut_load')} * 3600 AS BIGINT) "
                 f"WHEN is_tie THEN least({as_of}, upd_sec + lag) "
                 f"ELSE greatest(upd_sec, least({as_of}, upd_sec + lag)) END")},
            crm_segment{planted}
        FROM w
        """

    # -- raw.events: organic behaviour plus faults ---------------------------------------------------
    def event_columns_sql(self) -> str:
        return ", ".join(_ident(c) for c, _ in EVENTS_COLUMNS)

    def event_slots_sql(self) -> str:
        """Each lead's events split into slots of EVENT_CHUNK: many small rows spread over many row groups,
        so that DuckDB expands them on all threads (a table scan is parallel per row group), and a lead with
        thousands of events does not hold up one thread."""
        planted = ", deep_reader" if self.planted else ""
        return f"""
        CREATE OR REPLACE TEMP TABLE _dg_event_slots AS
        SELECT i, lead_id, lang, created_sec, rexp, p_int, p_sales, p_job, email_bad, owner, n_events{planted},
               unnest(range(0, n_events, {EVENT_CHUNK})) AS k0
        FROM _dg_lead
        """

    def events_sql(self) -> str:
        r, as_of, n = self.r, self.as_of, self.n
        K = ("i", "k")
        general = weighted_case("u_type", [
            ("'page_view'", 40), ("'email_open'", 24), ("'email_click'", 7), ("'site_search'", 2.5),
            ("'content_download'", 4), ("'form_submit'", 2), ("'webinar_register'", 2.5), ("'webinar_attend'", 1.2),
            ("'event_checkin'", 0.8), ("'email_reply'", 0.5), ("'email_bounce'", 0.3), ("'unsubscribe'", 0.2),
            ("'social'", 5)])
        intent = weighted_case("u_sub", [("'demo_request'", 25), ("'trial_signup'", 15), ("'pv_pricing'", 35),
                                         ("'ss_price'", 25)])
        sales = weighted_case("u_sub", [("'sales_email'", 40), ("'sales_call'", 30), ("'meeting_held'", 12),
                                        ("'status_change'", 18)])
        # the planted truth keeps sms_click for its noise events (planted_events_sql): organic ones become email opens
        sms = "'email_open'" if self.planted else "'sms_click'"
        social_cn = weighted_case("u_sub", [("'wechat_menu_click'", 50), ("'mini_program_open'", 35), (sms, 15)])
        social_other = weighted_case("u_sub", [(sms, 80), ("'wechat_menu_click'", 20)])
        social = f"CASE WHEN lang = 2 THEN {social_cn} ELSE {social_other} END"
        page = weighted_case("u_page", [(sql_str(p), w) for p, w in GENERAL_PAGES])
        site = (f"CASE WHEN {r.u('host', *K)} < 0.9 THEN 'https://www.vendor.com' "
                f"WHEN {r.u('host2', *K)} < 0.5 THEN 'http://vendor.com' ELSE 'https://vendor.com' END")
        page_path = (
            f"CASE WHEN ekind = 'pv_pricing' THEN CASE WHEN lang = 2 AND {r.u('cnp', *K)} < 0.6 THEN '/cn/jiage' "
            f"     ELSE {r.pick(('/pricing', '/pricing', '/pricing', '/Pricing', '/pricing/enterprise'), 'pp', *K)} END "
            f"WHEN {r.u('job', *K)} < p_job THEN CASE WHEN {r.u('job2', *K)} < 0.5 THEN '/careers' "
            f"     ELSE concat('/jobs/', 100 + {r.h('jobid', *K)} % 900) END "
            f"WHEN lang = 2 AND {r.u('cnpage', *K)} < 0.35 THEN {r.pick(BLOG_PAGES_CN, 'cnpath', *K)} "
            f"ELSE {page} END")
        query = (f"CASE WHEN {r.u('qs', *K)} < 0.12 THEN concat('?utm_source=', {r.pick(UTM_SOURCES, 'qs_src', *K)}, "
                 f"'&utm_campaign=', {r.pick(UTM_CAMPAIGNS, 'qs_cmp', *K)}) ELSE '' END")
        ua = r.pick(USER_AGENTS, "ua", *K)
        # concat() is ~3x faster than chains of || in DuckDB (and these strings never contain nulls)
        utm = (f"concat('\"utm_source\":\"', {r.pick(UTM_SOURCES, 'utm_s', *K)}, '\",\"utm_medium\":\"', "
               f"{r.pick(UTM_MEDIUMS, 'utm_m', *K)}, '\",\"utm_campaign\":\"', {r.pick(UTM_CAMPAIGNS, 'utm_c', *K)}, '\",')")
        duration = f"2 + {r.h('dur', *K)} % 600"
        if self.planted:  # page views: long (>= 120 s) for a deep reader's 75%, for 20% of anyone else's
            duration = (f"CASE WHEN event_type <> 'page_view' THEN {duration} "
                        f"WHEN {r.u('pt_long', *K)} < CASE WHEN deep_reader THEN {PT_LONG_VIEW[0]} ELSE {PT_LONG_VIEW[1]} END "
                        f"THEN 120 + {r.h('dur', *K)} % 481 ELSE 2 + {r.h('dur', *K)} % 118 END")
        props = (
            f"CASE WHEN event_type IN ('page_view', 'site_search', 'content_download', 'form_submit', 'demo_request', "
            f"'trial_signup', 'webinar_register', 'chat_started', 'app_install', 'video_play') THEN "
            f"  concat('{{', CASE WHEN {r.u('has_utm', *K)} < 0.4 THEN {utm} ELSE '' END, "
            f"  '\"duration_seconds\":', {duration}, ',\"user_agent\":\"', {ua}, '\"}}') "
            f"WHEN event_type LIKE 'email%' OR event_type IN ('unsubscribe', 'sms_click') THEN "
            f"  concat('{{\"campaign\":\"nl_2026_w', 1 + {r.h('cmp', *K)} % 52, '\",\"message_id\":\"m-', "
            f"  {r.h('msg', *K)} % 100000, '\"}}') "
            f"WHEN event_type = 'status_change' THEN concat('{{\"status\":\"', {r.pick(STATUSES, 'status', *K)}, "
            f"  '\",\"owner\":\"', owner, '\"}}') "
            f"WHEN event_type = 'sales_call' THEN concat('{{\"owner\":\"', owner, '\",\"duration_seconds\":', "
            f"  {r.h('call', *K)} % 1800, ',\"outcome\":\"', "
            f"  {r.pick(('connected', 'voicemail', 'no_answer'), 'outcome', *K)}, '\"}}') "
            f"WHEN event_type IN ('sales_email', 'meeting_held') THEN concat('{{\"owner\":\"', owner, '\"}}') "
            f"WHEN {r.u('props_null', *K)} < 0.3 THEN NULL "
            f"ELSE concat('{{\"source\":\"', channel, '\"}}') END")
        event_url = (
            f"CASE WHEN event_type = 'page_view' THEN concat({site}, page_path, {query}) "
            f"WHEN event_type = 'content_download' THEN concat('https://www.vendor.com', {r.pick(('/resources/ebook-x.pdf', '/resources/whitepaper-b2b-scoring.pdf', '/cn/ziyuan/baipishu.pdf'), 'dl', *K)}) "
            f"WHEN event_type = 'form_submit' THEN concat('https://www.vendor.com', {r.pick(('/contact', '/newsletter', '/resources/ebook-x'), 'fs', *K)}) "
            f"WHEN event_type = 'demo_request' THEN 'https://www.vendor.com/demo' "
            f"WHEN event_type = 'trial_signup' THEN 'https://app.vendor.com/signup' "
            f"WHEN event_type = 'webinar_register' THEN concat('https://www.vendor.com/webinars/', {r.pick(('scoring-masterclass', 'q4-roadmap', 'wechat-b2b'), 'wb', *K)}) "
            f"END")
        return f"""
        INSERT INTO {self.schema}.events ({self.event_columns_sql()})
        WITH e AS (
            SELECT i, lead_id, lang, created_sec, rexp, p_int, p_sales, p_job, email_bad, owner{", deep_reader" if self.planted else ""},
                   unnest(range(k0, least(k0 + {EVENT_CHUNK}, n_events))) AS k
            FROM _dg_event_slots
        ), r AS (
            SELECT *,
                   {r.u('fault', *K)} AS u_fault, {r.u('sales', *K)} AS u_sales, {r.u('int', *K)} AS u_int,
                   {r.u('type', *K)} AS u_type, {r.u('sub', *K)} AS u_sub, {r.u('page', *K)} AS u_page,
                   {r.u('time', *K)} AS u_time, {r.u('dup', *K)} AS u_dup, {r.u('late', *K)} AS u_late
            FROM e
        ), t AS (
            SELECT *,
                   CASE WHEN u_sales < p_sales THEN {sales}
                        WHEN u_int < p_int THEN {intent}
                        ELSE {general} END AS ekind0
            FROM r
        ), t2 AS (
            SELECT *, CASE WHEN ekind0 = 'social' THEN {social} ELSE ekind0 END AS ekind FROM t
        ), x AS (
            SELECT *,
                   CASE WHEN u_fault >= 0.015 AND u_fault < 0.020 THEN {r.pick(UNKNOWN_EVENT_TYPES, 'unknown', *K)}
                        WHEN ekind = 'pv_pricing' THEN 'page_view' WHEN ekind = 'ss_price' THEN 'site_search'
                        WHEN email_bad AND ekind IN ('email_open', 'email_click', 'email_reply') THEN 'email_bounce'
                        ELSE ekind END AS event_type,
                   -- time: between (a little before) creation and as_of, skewed by the lead's recency
                   least(created_sec, {as_of} - 86400) AS t0,
                   CASE WHEN {r.u('pre', *K)} < 0.04 THEN CAST({r.u('pre2', *K)} * 30 * 86400 AS BIGINT) ELSE 0 END AS pre
            FROM t2
        ), y AS (
            SELECT *,
                   CASE WHEN event_type IN ('page_view', 'site_search', 'content_download', 'form_submit', 'demo_request',
                                            'trial_signup', 'webinar_register', 'webinar_attend', 'chat_started', 'video_play')
                            THEN CASE WHEN event_type = 'site_search' AND {r.u('ads', *K)} < 0.2 THEN 'ads'
                                      WHEN event_type = 'page_view' AND {r.u('ads', *K)} < 0.05 THEN 'ads'
                                      ELSE 'website' END
                        WHEN event_type = 'app_install' THEN 'ads'
                        WHEN event_type LIKE 'email%' OR event_type IN ('unsubscribe', 'sales_email') THEN 'email'
                        WHEN event_type = 'event_checkin' THEN 'event'
                        WHEN event_type = 'wechat_menu_click' THEN 'wechat'
                        WHEN event_type = 'mini_program_open' THEN 'mini_program'
                        WHEN event_type = 'sms_click' THEN 'sms'
                        ELSE NULL END AS channel,
                   CASE WHEN u_fault >= 0.020 AND u_fault < 0.022
                            THEN {as_of} + 600 + CAST({r.u('future', *K)} * 30 * 86400 AS BIGINT)
                        ELSE t0 - pre + CAST(pow(u_time, rexp) * ({as_of} - t0) AS BIGINT) END AS occ,
                   CASE WHEN event_type = 'page_view' THEN {page_path} END AS page_path
            FROM x
        ), z AS (
            SELECT *,
                   CASE WHEN u_fault >= 0.020 AND u_fault < 0.022
                            THEN {as_of} - CAST({r.u('fut_load', *K)} * 86400 AS BIGINT)
                        ELSE occ + least(greatest(0, {as_of} - occ),
                                         CASE WHEN u_late < 0.03 THEN 86400 + CAST({r.u('late2', *K)} * 9 * 86400 AS BIGINT)
                                              ELSE 5 + CAST({r.u('lag', *K)} * 900 AS BIGINT) END) END AS load1
            FROM y
        ), f AS (
            SELECT
                CASE WHEN {r.u('noid', *K)} < 0.0001 THEN NULL ELSE concat('ev_', i, '_', k) END AS event_id,
                CASE WHEN u_fault < 0.010 THEN NULL
                     WHEN u_fault < 0.015 THEN printf('L%08d', {n} + 1 + {r.h('orphan', *K)} % 50000)
                     ELSE lead_id END AS lead_id,
                event_type, channel,
                CASE WHEN u_fault >= 0.022 AND u_fault < 0.024 THEN NULL ELSE occ END AS occ,
                {event_url} AS page_url,
                CASE WHEN event_type = 'site_search' THEN
                     CASE WHEN ekind = 'ss_price' THEN {r.pick(PRICE_TERMS, 'pterm', *K)}
                          ELSE {r.pick(SEARCH_TERMS, 'sterm', *K)} END END AS search_term,
                CASE WHEN {r.u('malformed', *K)} < 0.005 THEN {r.pick(MALFORMED_JSON, 'mal', *K)} ELSE {props} END AS properties,
                -- a re-delivered event's first load leaves room before as_of for the later deliveries
                CASE WHEN u_dup < 0.02 THEN least(load1, greatest(occ, {as_of} - 3)) ELSE load1 END AS load_first,
                CASE WHEN u_dup < 0.001 THEN [0, 1, 2] WHEN u_dup < 0.02 THEN [0, 1] ELSE [0] END AS deliveries,
                {r.u('redeliver', *K)} AS u_redeliver
            FROM z
        ), d AS (
            SELECT *, unnest(deliveries) AS delivery FROM f
        )
        SELECT event_id, lead_id, event_type, channel, {_ts('occ')}, page_url, search_term, properties,
               {_ts(f"least({as_of}, load_first + delivery + CAST(delivery * u_redeliver * least(3 * 86400, greatest(0, {as_of} - load_first)) / 3 AS BIGINT))")}
        FROM d
        """

    def bursts_sql(self) -> str:
        """~0.5% of leads: a bot burst of 40-200 page views inside one calendar minute."""
        r, as_of = self.r, self.as_of
        K = ("i", "k")
        page = weighted_case(r.u("bpage", *K), [(sql_str(p), w) for p, w in GENERAL_PAGES])
        return f"""
        INSERT INTO {self.schema}.events ({self.event_columns_sql()})
        WITH b AS (
            SELECT i, lead_id, least(created_sec, {as_of} - 86400) AS t0,
                   40 + CAST({r.h('burst_n')} % 161 AS BIGINT) AS nb, {r.pick(BOT_AGENTS, 'bot_ua')} AS ua
            FROM _dg_lead WHERE {r.u('burst')} < 0.005
        ), m AS (
            SELECT *, least((t0 + CAST({r.u('burst_t')} * ({as_of} - t0) AS BIGINT)) // 60 * 60, ({as_of} - 120) // 60 * 60) AS minute_sec
            FROM b
        ), e AS (
            SELECT *, unnest(range(nb)) AS k FROM m
        ), x AS (
            SELECT *, minute_sec + (k * 60) // nb AS occ FROM e
        )
        SELECT concat('evb_', i, '_', k), lead_id, 'page_view', 'website', {_ts('occ')},
               concat('https://www.vendor.com', {page}), NULL,
               concat('{{"duration_seconds":0,"user_agent":"', ua, '"}}'),
               {_ts(f"occ + least(greatest(0, {as_of} - occ), 30 + CAST({r.u('bload', *K)} * 600 AS BIGINT))")}
        FROM x
        """

    def opportunities_sql(self) -> str:
        r, as_of, n = self.r, self.as_of, self.n
        K = ("i", "j")
        cols = ", ".join(_ident(c) for c, _ in OPPORTUNITIES_COLUMNS)
        oc = f"created_sec + CAST((0.05 + 0.9 * {r.u('opp_created', *K)}) * greatest(3600, {as_of} - created_sec) AS BIGINT)"
        if self.planted:  # the first opportunity at the instant its lead's planted events lead up to
            oc = f"CASE WHEN j = 0 THEN opp_sec ELSE {oc} END"
        return f"""
        INSERT INTO {self.schema}.opportunities ({cols})
        WITH o AS (
            SELECT i, lead_id, created_sec, quality, szb,{" opp_sec," if self.planted else ""}
                   unnest(CASE WHEN {r.u('opp2')} < 0.07 THEN [0, 1] ELSE [0] END) AS j
            FROM _dg_lead WHERE has_opp
        ), c AS (
            SELECT *, {oc} AS oc
            FROM o
        ), s AS (
            SELECT *, {r.u('opp_close', *K)} < least(0.9, ({as_of} - oc) / (60.0 * 86400)) AS is_closed FROM c
        ), t AS (
            SELECT *,
                   CASE WHEN is_closed THEN CASE WHEN {r.u('opp_win', *K)} < 0.2 + 0.55 * quality THEN 'won' ELSE 'lost' END
                        WHEN {r.u('opp_sql', *K)} < 0.5 THEN 'open' ELSE 'sql' END AS stage,
                   CASE WHEN is_closed THEN oc + CAST({r.u('opp_closed_at', *K)} * ({as_of} - oc) AS BIGINT) END AS closed_sec,
                   round(4000 * exp(0.8 * {r.normal('opp_amount', *K)}) * (1 + 3 * szb), 2) AS amt
            FROM s
        )
        SELECT printf('OPP-%08d-%d', i + 1, j),
               CASE WHEN {r.u('opp_orphan', *K)} < 0.002 THEN printf('L%08d', {n} + 50001 + {r.h('opp_orphan_id', *K)} % 1000)
                    ELSE lead_id END,
               {_ts('oc')}, stage, stage = 'won', {_ts('closed_sec')},
               CASE WHEN {r.u('opp_neg', *K)} < 0.002 THEN -amt ELSE amt END,
               {_ts(f"least({as_of}, coalesce(closed_sec, oc) + 60 + CAST({r.u('opp_load', *K)} * 7200 AS BIGINT))")}
        FROM t
        """


def generate(database: str, leads: int = DEFAULTS["leads"], events_per_lead: float = DEFAULTS["events_per_lead"],
             days: int = DEFAULTS["days"], seed: int = DEFAULTS["seed"], as_of: str = DEFAULTS["as_of"],
             schema: str = DEFAULTS["schema"], latent_schema: str | None = None, planted_truth: bool = False) -> dict:
    """(Re)create `<schema>.leads`, `.events` and `.opportunities` in the DuckDB file `database`.

    Returns the row counts per table. `latent_schema` (optional) also keeps the hidden per-lead traits in
    `<latent_schema>.lead_latent` (lead_id, fit_latent, eng_z, quality, has_opp, ...).
    `planted_truth` plants the conversion drivers of PLANTED_DRIVERS and the noise of PLANTED_NOISE (five more
    custom lead columns, planted events; docs/planted_truth.md); with `latent_schema` the per-lead driver flags
    go to `<latent_schema>.lead_planted`. Without it the tables are exactly those of a call without the argument.
    """
    con = duckdb.connect(str(database))
    try:
        con.execute("SET enable_progress_bar = false")
        gen = _Gen(con, leads, events_per_lead, days, seed, as_of, schema, latent_schema, planted_truth)
        con.execute("BEGIN TRANSACTION")
        try:
            counts = gen.run()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return counts
    finally:
        con.close()


def append_events(database: str, share: float, seed: int = DEFAULTS["seed"], loaded_at: str | None = None,
                  schema: str = DEFAULTS["schema"], late_share: float = 0.05, redelivery_share: float = 0.02,
                  max_late_days: int = 10) -> dict:
    """Append ``round(share * <current events>)`` rows to ``<schema>.events``: one landing of new data.

    - New events (all but ``redelivery_share`` of the rows) copy the type, channel, lead, URL, search term and
      properties of existing events chosen by a seeded hash (so their mix, anonymous/unknown rows included, is
      the warehouse's own), under new ids ``evx_<loaded_at as YYYYMMDDHHMMSS>_<seed>_<n>``. Their
      ``occurred_at`` is recent (within 6 hours before ``loaded_at``), except ``late_share`` of them dated 1 to
      ``max_late_days`` days back (late arrivals).
    - Re-deliveries (``redelivery_share`` of the rows) repeat existing events exactly (same ``event_id`` and
      content): at-least-once delivery. Staging keeps the first delivery, so they must not count twice.
    - Every appended row has ``_loaded_at`` in [``loaded_at``, ``loaded_at`` + 20 min); ``loaded_at`` (UTC) must be
      later than every ``_loaded_at`` already there; by default it is one hour after the latest.

    Everything happens in one ``INSERT ... SELECT`` inside DuckDB (no Python loop over rows) and depends only on
    the table's contents and the arguments: the same call on the same data appends the same rows.
    Returns counts and the batch's ``loaded_at``.
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    if not (0 <= late_share <= 1 and 0 <= redelivery_share <= 1 and max_late_days >= 1):
        raise ValueError("late_share and redelivery_share must be in [0, 1] and max_late_days >= 1")
    s = _ident(schema)
    r = _Sql(seed)
    cols = ", ".join(_ident(c) for c, _ in EVENTS_COLUMNS)
    con = duckdb.connect(str(database))
    try:
        con.execute("SET enable_progress_bar = false")
        before, latest = con.execute(f"SELECT count(*), max(_loaded_at) FROM {s}.events").fetchone()
        if loaded_at is None:
            base_dt = (latest or dt.datetime(1970, 1, 1)).replace(microsecond=0) + dt.timedelta(hours=1)
        else:
            base_dt = parse_instant(loaded_at, what="loaded_at")
            if latest is not None and base_dt <= latest:
                raise ValueError(f"loaded_at {base_dt} must be later than the latest _loaded_at already landed ({latest})")
        base = int((base_dt - dt.datetime(1970, 1, 1)).total_seconds())
        total = int(round(before * share))
        n_redeliver = int(round(total * redelivery_share))
        n_new = total - n_redeliver
        prefix = f"evx_{format_compact(base_dt)}_{int(seed)}_"
        if con.execute(f"SELECT count(*) FROM {s}.events WHERE starts_with(event_id, ?)", [prefix]).fetchone()[0]:
            raise ValueError(f"a batch with ids {prefix}* was already appended (same loaded_at and seed)")
        K = ("k",)
        ago = (f"CASE WHEN {r.u('ax_late', *K)} < {float(late_share)!r} "
               f"THEN 86400 + CAST({r.u('ax_late_d', *K)} * {(int(max_late_days) - 1) * 86400} AS BIGINT) "
               f"ELSE CAST({r.u('ax_recent', *K)} * 21600 AS BIGINT) END")
        order = "h, event_id, _loaded_at, occurred_at, lead_id, event_type, page_url, search_term, properties"
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"""
            INSERT INTO {s}.events ({cols})
            WITH tpl AS (
                SELECT * FROM (SELECT *, {r.h('ax_tpl', 'event_id')} AS h FROM {s}.events WHERE event_id IS NOT NULL)
                ORDER BY {order} LIMIT {n_new}
            ), fresh AS (
                SELECT *, row_number() OVER (ORDER BY {order}) AS k FROM tpl
            ), again AS (
                SELECT * FROM (SELECT *, {r.h('ax_again', 'event_id')} AS h FROM {s}.events WHERE event_id IS NOT NULL)
                ORDER BY {order} LIMIT {n_redeliver}
            ), again_k AS (
                SELECT *, row_number() OVER (ORDER BY {order}) AS k FROM again
            )
            SELECT concat({sql_str(prefix)}, k), lead_id, event_type, channel,
                   {_ts(f"{base} - {ago}")}, page_url, search_term, properties,
                   {_ts(f"{base} + {r.h('ax_load', *K)} % 1200")}
            FROM fresh
            UNION ALL
            SELECT event_id, lead_id, event_type, channel, occurred_at, page_url, search_term, properties,
                   {_ts(f"{base} + {r.h('ax_load_again', *K)} % 1200")}
            FROM again_k
            """)
            late = con.execute(
                f"SELECT count(*) FROM {s}.events WHERE starts_with(event_id, ?) "
                f"AND occurred_at < ? - INTERVAL 1 DAY + INTERVAL 1 SECOND", [prefix, base_dt]).fetchone()[0]
            after = con.execute(f"SELECT count(*) FROM {s}.events").fetchone()[0]
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    return {"events_before": before, "appended": after - before, "new_events": n_new, "late_events": late,
            "redeliveries": n_redeliver, "events_after": after, "loaded_at": format_as_of(base_dt),
            "id_prefix": prefix}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `lead-scoring datagen` (and `python -m lead_scoring.datagen`)."""
    parser.add_argument("--database", required=True, help="DuckDB file to write (created if missing)")
    parser.add_argument("--leads", type=int, default=DEFAULTS["leads"], help="leads to generate (default %(default)s)")
    parser.add_argument("--events-per-lead", type=float, default=DEFAULTS["events_per_lead"],
                        help="average events per lead (default %(default)s)")
    parser.add_argument("--days", type=int, default=DEFAULTS["days"],
                        help="days of history before --as-of (default %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="the seed: same seed, same tables")
    parser.add_argument("--as-of", default=DEFAULTS["as_of"],
                        help='the instant the data ends at, UTC (default "%(default)s")')
    parser.add_argument("--schema", default=DEFAULTS["schema"], help="schema of the raw tables (default %(default)s)")
    parser.add_argument("--planted-truth", action="store_true",
                        help="plant known conversion drivers and noise (custom columns plan_interest, seats_requested, "
                             "customer_type, form_variant, survey_score; demo_request bursts, long page views, a "
                             "consumer webinar path) for checking rule discovery: docs/planted_truth.md")
    parser.add_argument("--append-events", type=float, metavar="SHARE",
                        help="instead of generating, append this share (e.g. 0.001) of new events and re-deliveries "
                             "to the existing <schema>.events (see append_events); --seed applies")
    parser.add_argument("--loaded-at", help="with --append-events: the batch's _loaded_at (UTC); default one hour "
                                            "after the latest _loaded_at")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.append_events is not None and args.planted_truth:
        print("datagen: --planted-truth applies to a generation, not to --append-events", file=sys.stderr)
        return 2
    if args.append_events is not None:
        result = append_events(args.database, args.append_events, seed=args.seed, loaded_at=args.loaded_at,
                               schema=args.schema)
        print(f"datagen: appended {result['appended']} rows to {args.schema}.events ({result['new_events']} new, "
              f"{result['late_events']} of them late, {result['redeliveries']} re-deliveries; "
              f"_loaded_at from {result['loaded_at']}; {result['events_before']} -> {result['events_after']}) "
              f"({time.perf_counter() - started:.1f}s, seed {args.seed})")
        return 0
    counts = generate(args.database, leads=args.leads, events_per_lead=args.events_per_lead, days=args.days,
                      seed=args.seed, as_of=args.as_of, schema=args.schema,
                      **({"planted_truth": True} if args.planted_truth else {}))
    summary = ", ".join(f"{args.schema}.{t}={c}" for t, c in counts.items())
    planted = ", planted truth" if args.planted_truth else ""
    print(f"datagen: {summary} ({time.perf_counter() - started:.1f}s, seed {args.seed}, as_of {args.as_of}{planted})")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lead_scoring.datagen", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
