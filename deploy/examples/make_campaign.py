#!/usr/bin/env python3
"""make_campaign.py — writes campaign.jsonl, the demo's campaign (deterministic: seed 7).

About 3,000 SMS jobs across CO, MX, US, PE and CL and their segments. Zones span Guam to
Santiago, so whatever the hour some debtors are at night. Repeated debtors run into the daily
and weekly caps; some job ids are sent twice; some jobs are invalid (bad numbers, unknown zones,
missing template variables, personal references)."""
import json
import random

random.seed(7)
JUR = [  # jurisdiction, zones, country code, mobile prefix
    ("CO", ["America/Bogota"], "57", "30"),
    ("MX", ["America/Mexico_City", "America/Tijuana", "America/Cancun"], "52", "155"),
    ("US", ["America/New_York", "America/Chicago", "America/Los_Angeles", "Pacific/Honolulu",
            "Pacific/Guam"], "1", "555"),
    ("PE", ["America/Lima"], "51", "9"),
    ("CL", ["America/Santiago"], "56", "9"),
]
PRODUCTS = ["tarjeta de crédito", "microcrédito", "crédito de consumo", "préstamo vehicular"]
NAMES = ["Ana", "Luis", "María", "José", "Carmen", "Jorge", "Lucía", "Pedro", "Rosa", "Diego"]
lines = []
n = 0
for jur, zones, cc, prefix in JUR:
    for d in range(400):
        debtor = f"{jur.lower()}-{d:04d}"
        zone = zones[d % len(zones)]
        phone = "+" + cc + prefix + f"{random.randrange(10**(10 - len(cc) - len(prefix) + 1)):0{10 - len(cc) - len(prefix) + 1}d}"
        days = random.choice([5, 15, 30, 60, 90, 120])
        amount = random.choice([120, 480, 1250, 3900, 15000])
        for k in range(2 if d % 3 == 0 else 1):  # every third debtor gets a second message
            n += 1
            job = {
                "job_id": f"camp-{jur.lower()}-{d:04d}-{k}", "tenant": "acme-cobranzas",
                "campaign": f"mora-{days}d", "debtor_id": debtor, "debt_id": f"L-{d:04d}",
                "role": "debtor", "channel": "sms", "contact": phone,
                "template_id": "aviso_mora_sms" if k else "recordatorio_pago",
                "jurisdiction": jur, "time_zone": zone, "priority": 1 if days > 60 else 0,
                "variables": {"nombre": random.choice(NAMES), "monto": f"${amount:,}",
                              "producto": random.choice(PRODUCTS), "fecha": "30/11",
                              "enlace": f"https://pagos.example/{debtor}",
                              "acreedor": "Acme Cobranzas", "telefono": "018000123456"},
            }
            lines.append(job)
# duplicates: the same job ids again
lines += [dict(j) for j in random.sample(lines, 60)]
# invalid jobs: each must come back REJECTED with its reason, never sent
bad = []
for i in range(10):
    b = dict(random.choice(lines)); b["job_id"] = f"bad-phone-{i}"; b["contact"] = "+57 300 123"; bad.append(b)
    b = dict(random.choice(lines)); b["job_id"] = f"bad-zone-{i}"; b["time_zone"] = "America/Atlantis"; bad.append(b)
    b = dict(random.choice(lines)); b["job_id"] = f"bad-vars-{i}"; b["variables"] = {"nombre": "Ana"}; bad.append(b)
    b = dict(random.choice(lines)); b["job_id"] = f"reference-{i}"; b["role"] = "reference"; bad.append(b)
lines += bad
random.shuffle(lines)
with open("campaign.jsonl", "w", encoding="utf-8") as f:
    for j in lines:
        f.write(json.dumps(j, ensure_ascii=False) + "\n")
print(f"campaign.jsonl: {len(lines)} jobs")
