"""Bulk import through service.imports on PostgreSQL and on SQLite: templates, dry runs,
all or nothing, re-imports, errors by row and column, and the `afftrack import` command."""

from __future__ import annotations

import pytest

from service.imports import KINDS, FileProblem, Plan, plan, run, template
from service.vocabulary import HANDLE_RULE

TABLES = ("influencers", "platform_accounts", "partnerships", "links", "promo_codes")


def do(api, kind: str, data: str | bytes, *, dry: bool = False) -> Plan:
    svc = api.app.extensions["afftrack"]
    with svc.db.session() as session:
        return (plan if dry else run)(session, kind, data, settings=svc.settings)


def counts(api) -> dict[str, int]:
    return {table: api.rows(table) for table in TABLES}


def autumn(api) -> dict:
    return api.create_campaign("autumn-2026", ends_on="2026-12-31")


def test_every_template_imports_as_it_is_and_again_changes_nothing(api):
    autumn(api)
    for kind in KINDS:
        done = do(api, kind, template(kind))
        assert (done.applied, done.counts) == (True, {"created": 1, "unchanged": 0, "error": 0})
    before = counts(api)
    assert before == dict.fromkeys(TABLES, 1) | {"platform_accounts": 2}
    for kind in KINDS:
        again = do(api, kind, template(kind))
        assert again.counts == {"created": 0, "unchanged": 1, "error": 0}, again.errors
    assert counts(api) == before
    link = api.get("/api/v1/links").json["items"][0]
    assert link["code"] == "anna-autumn"
    assert link["tracked_url"].endswith("utm_campaign=autumn-2026&utm_content=anna.travels")
    partner = api.get(f"/api/v1/campaigns/{link['campaign_id']}/partners").json["items"][0]
    assert partner["commission_rules"] == [
        {
            "type": "tiered_percent",
            "tiers": [{"up_to": "1000.00", "rate": "10"}, {"up_to": None, "rate": "15"}],
        }
    ]


def test_a_dry_run_shows_the_outcomes_and_writes_nothing(api):
    api.create_influencer("bo.eats")
    text = (
        "handle,name,email\nbo.eats,Bo.Eats,bo.eats@example.com\nnew.one,New One,new@example.com\n"
    )
    before = counts(api)
    dry = do(api, "influencers", text, dry=True)
    assert [(r.row, r.key, r.outcome) for r in dry.rows] == [
        (2, "bo.eats", "error"),  # the factory gave bo.eats a platform account
        (3, "new.one", "created"),
    ]
    assert not dry.applied
    assert counts(api) == before


def test_errors_name_the_row_and_the_column_in_sentences(api):
    text = (
        "handle,name,email,platforms\n"
        "anna.travels,Anna,anna@example.com,instagram:anna:48200\n"
        "bob,Bob,not-an-email,tiktok:bob:lots\n"
        "Carl!,,carl@example.com,\n"
        "dana,Dana,dana@example.com,myspace:dana:5; instagram-dana\n"
    )
    done = do(api, "influencers", text)
    assert [str(e) for e in done.errors] == [
        "row 3, column email: Not a valid email address.",
        "row 3, column platforms: account 1, followers: Not a valid integer.",
        f"row 4, column handle: {HANDLE_RULE}",
        "row 4, column name: is empty, and it is required.",
        "row 5, column platforms: account 2 is not platform:handle:followers "
        "(for example instagram:anna.travels:48200)",
    ]
    assert [r.outcome for r in done.rows] == ["created", "error", "error", "error"]
    assert not done.applied
    assert counts(api)["influencers"] == 0  # row 2 was fine, and is not written either


def test_one_bad_row_writes_nothing_of_the_file(api):
    campaign = autumn(api)
    for handle in ("anna", "bob"):
        api.add_partner(campaign["id"], api.create_influencer(handle)["id"])
    text = (
        "campaign,influencer,platform,destination,slug\n"
        "autumn-2026,anna,instagram,https://shop.example/a,anna-bio\n"
        "autumn-2026,bob,tiktok,https://elsewhere.example/b,\n"
        "autumn-2026,carl,tiktok,https://shop.example/c,\n"
        "spring,bob,tiktok,https://shop.example/c,\n"
    )
    done = do(api, "links", text)
    assert [str(e) for e in done.errors][1:] == [
        "row 4, column influencer: no influencer with handle 'carl'",
        "row 5, column campaign: no campaign with slug 'spring'",
    ]
    assert done.errors[0].row == 3 and done.errors[0].column == "destination"
    assert counts(api)["links"] == 0
    fixed = do(api, "links", "\n".join(text.splitlines()[:2]))
    assert fixed.applied and counts(api)["links"] == 1


def test_a_key_that_exists_with_other_values_is_an_error_not_an_update(api):
    api.create_influencer("anna")
    done = do(
        api,
        "influencers",
        "handle,name,email,platforms\nanna,Anna Berg,anna@example.com,instagram:anna:5000\n",
    )
    assert [str(e) for e in done.errors] == [
        "row 2, column handle: exists with different values: name is 'Anna Berg' here "
        "and 'Anna' stored"
    ]
    assert api.get("/api/v1/influencers").json["items"][0]["name"] == "Anna"


def test_a_row_repeated_in_the_file_is_created_once(api):
    text = "handle,name,email\nanna,Anna,a@example.com\nanna,Anna,a@example.com\n"
    done = do(api, "influencers", text)
    assert [r.outcome for r in done.rows] == ["created", "unchanged"]
    assert done.rows[0].id == done.rows[1].id
    assert counts(api)["influencers"] == 1


def test_excel_files_with_a_bom_semicolons_and_quotes_import(api):
    data = (
        "\ufeffHandle;Name;Email;Platforms\r\n"
        'anna;"Berg; Anna ""A.""";anna@example.com;"instagram:anna:48200; blog:https://a.example:900"\r\n'
    ).encode()
    done = do(api, "influencers", data)
    assert done.applied, done.errors
    anna = api.get("/api/v1/influencers").json["items"][0]
    assert anna["name"] == 'Berg; Anna "A."'
    assert sorted((p["platform"], p["handle"], p["followers"]) for p in anna["platforms"]) == [
        ("blog", "https://a.example", 900),
        ("instagram", "anna", 48200),
    ]
    assert do(api, "influencers", data).counts["unchanged"] == 1


def test_unknown_or_missing_columns_refuse_the_file(api):
    with pytest.raises(FileProblem, match="unknown column\\(s\\) 'followers'; a influencers"):
        do(api, "influencers", "handle,name,email,followers\nanna,Anna,a@example.com,5\n")
    with pytest.raises(FileProblem, match="missing column\\(s\\) email"):
        do(api, "influencers", "handle,name\nanna,Anna\n")
    assert counts(api)["influencers"] == 0


def test_partner_rules_in_json_or_compact_form_are_the_same_rules(api):
    autumn(api)
    api.create_influencer("anna")
    api.create_influencer("bob")
    done = do(
        api,
        "partners",
        "campaign,influencer,commission_rules\n"
        'autumn-2026,anna,"[{""type"": ""percent"", ""rate"": ""12.50""}]"\n'
        "autumn-2026,bob,\n",
    )
    assert done.applied, done.errors
    again = do(
        api,
        "partners",
        "campaign,influencer,commission_rules\nautumn-2026,anna,percent:12.5\nautumn-2026,bob,\n",
    )
    assert again.counts["unchanged"] == 2, again.errors
    other = do(api, "partners", "campaign,influencer,commission_rules\nautumn-2026,bob,flat:2.00\n")
    assert [str(e) for e in other.errors] == [
        "row 2, column influencer: exists with different values: commission_rules is "
        "'flat:2.00' here and empty stored"
    ]
    bad = do(api, "partners", "campaign,influencer,commission_rules\nautumn-2026,bob,percent:120\n")
    assert [(e.column, e.message.startswith("rule 1")) for e in bad.errors] == [
        ("commission_rules", True)
    ]


def test_links_and_codes_without_their_own_key_are_unchanged_on_reimport(api):
    campaign = autumn(api)
    api.add_partner(campaign["id"], api.create_influencer("anna")["id"])
    links = (
        "campaign,influencer,platform,destination\nautumn-2026,anna,TikTok,https://shop.example/x\n"
    )
    codes = "campaign,influencer,max_uses\nautumn-2026,anna,10\n"
    for kind, text in (("links", links), ("promo-codes", codes)):
        assert do(api, kind, text).counts["created"] == 1
        assert do(api, kind, text).counts["unchanged"] == 1
    assert (counts(api)["links"], counts(api)["promo_codes"]) == (1, 1)
    taken = do(api, "promo-codes", "campaign,influencer,code\nautumn-2026,anna,ANNA15\n")
    assert taken.applied
    clash = do(api, "promo-codes", "campaign,influencer,code,max_uses\nautumn-2026,anna,anna15,3\n")
    assert [e.message for e in clash.errors] == [
        "exists with different values: code is 'anna15' here and 'ANNA15' stored; "
        "max_uses is '3' here and empty stored"
    ]


def test_reimporting_codes_after_retiring_them_brings_none_back(api):
    campaign = autumn(api)
    api.add_partner(campaign["id"], api.create_influencer("anna")["id"])
    named = "campaign,influencer,code\nautumn-2026,anna,ANNA15\n"
    unnamed = "campaign,influencer,max_uses\nautumn-2026,anna,10\n"
    made = [do(api, "promo-codes", text).rows[0].id for text in (named, unnamed)]
    for code_id in made:
        r = api.patch(f"/api/v1/promo-codes/{code_id}", {"status": "retired"})
        assert r.status_code == 200, r.json
    again = do(api, "promo-codes", named)
    assert not again.applied
    assert [str(e) for e in again.errors] == [
        "row 2, column code: 'ANNA15' exists already and is retired; to use it again, "
        "reactivate it on its page"
    ]
    lower = do(api, "promo-codes", "campaign,influencer,code\nautumn-2026,anna, anna15\n")
    assert lower.counts["error"] == 1
    without = do(api, "promo-codes", unnamed)
    assert [(r.outcome, r.id) for r in without.rows] == [("unchanged", made[1])]
    assert counts(api)["promo_codes"] == 2
    codes = api.get("/api/v1/promo-codes").json["items"]
    assert {c["status"] for c in codes} == {"retired"}


def test_control_characters_in_a_row_are_not_echoed(api):
    done = do(api, "influencers", "handle,name,email\nbad\x1b[31m,Bad,b@example.com\n")
    assert done.errors and all("\x1b" not in str(e) + r.key for e in done.errors for r in done.rows)


def test_the_cli_downloads_a_template_dry_runs_and_imports(sqlite_app, tmp_path, frozen):
    runner = sqlite_app.test_cli_runner()
    out = tmp_path / "influencers.csv"
    assert (
        runner.invoke(args=["import", "template", "influencers", "--out", str(out)]).exit_code == 0
    )
    assert out.read_bytes().startswith(b"handle,name,email,payout_email,platforms\r\n")

    dry = runner.invoke(args=["import", "influencers", str(out), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "created   anna.travels" in dry.output
    assert "dry run, nothing written: 1 created, 0 unchanged, 0 with errors" in dry.output

    first = runner.invoke(args=["import", "influencers", str(out)])
    assert "imported: 1 created" in first.output and first.exit_code == 0
    second = runner.invoke(args=["import", "influencers", str(out)])
    assert "imported: 0 created, 1 unchanged" in second.output

    bad = tmp_path / "bad.csv"
    bad.write_text("campaign;influencer\nnope;anna.travels\n")
    refused = runner.invoke(args=["import", "links", str(bad)])
    assert refused.exit_code == 1
    assert "missing column(s) platform, destination" in refused.output

    bad.write_text(
        "campaign;influencer;platform;destination\nnope;anna.travels;blog;https://x.example\n"
    )
    refused = runner.invoke(args=["import", "links", str(bad)])
    assert refused.exit_code == 1
    assert "row 2, column campaign: no campaign with slug 'nope'" in refused.output
    assert "nothing written, as a row has errors" in refused.output


def test_trailing_delimiters_are_ignored_but_values_outside_the_header_are_not(api):
    done = do(
        api, "influencers", "handle,name,email,\nanna,Anna,a@example.com,,\nbo,Bo,b@example.com,x\n"
    )
    assert [str(e) for e in done.errors] == [
        "row 3: has a value in a column without a name in the header"
    ]
    assert done.rows[0].outcome == "created" and counts(api)["influencers"] == 0
