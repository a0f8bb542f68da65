"""Every refusal an influencer reads on the portal is in the page's language: the post
form's and the payout form's refusals beside their inputs (marshmallow's checks, ours and
the domain's), a closed payout request, the reasons in the payout history, a refused
sign-in link and a refused new-link form; nothing is stored on the way. The API answers
in English whatever the browser's languages. And a walk over every refusal those forms
and the domain can show: each has its French and Swedish words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from marshmallow import Schema, ValidationError, fields

from service.deliverables.schemas import DeliverableIn
from service.errors import Words
from service.forms import PLAIN, SHAPED, worded
from service.portal import language, payout, posts
from service.portal.access import REFUSALS
from service.portal.schemas import PayoutEmailIn
from service.portal_site.formatting import words
from service.vocabulary import YEAR_SPAN
from tests.support.app import Api
from tests.support.dashboard_session import csrf
from tests.support.portal import invite_path, post_form, refusals, signed_in

pytestmark = pytest.mark.frozen_at("2026-09-01T09:00:00Z")
LANGS = ("fr", "sv")
NNBSP, NBSP = "\u202f", "\xa0"

# What the influencer reads, written out here (not read from the catalogues under test).
SAID = {
    "fr": {
        "fill": "Remplissez ce champ.",
        "web": "Saisissez une adresse web, par exemple https://example.com/page.",
        "date": "Saisissez une date au format AAAA-MM-JJ (ou une heure comme "
        "2026-10-01T09:00:00Z).",
        "whole": "Saisissez un nombre entier, par exemple 1200.",
        "metric": f"Saisissez un nombre de 0 à 10{NNBSP}000{NNBSP}000{NNBSP}000{NNBSP}000.",
        "too_long": f"Saisissez au plus 2{NNBSP}048 caractères.",
        "one_of": "Choisissez parmi : instagram, tiktok, youtube,",
        "partner": "Choisissez l'une des campagnes dont vous êtes partenaire.",
        "platform": "Choisissez l'une de vos plateformes.",
        "years": "Choisissez une date entre les années 2000 et 2100.",
        "email": "Saisissez une adresse e-mail, par exemple nom@example.com.",
        "email_too_long": "Saisissez au plus 254 caractères.",
        "same": "C'est déjà votre adresse e-mail de versement.",
        "declined": "Cette demande est close : elle a été refusée.",
        "replaced": "remplacée par une demande pour une autre adresse",
        "withdrawn": "retirée par vous",
        "used": "Ce lien de connexion a déjà été utilisé. Chaque lien ne fonctionne qu'une fois.",
        "expired": "Ce lien de connexion a expiré.",
        "revoked": "Ce lien de connexion a été retiré par la marque.",
        "unknown": "Ce lien de connexion n'est pas valide. Vérifiez qu'il a été copié en entier.",
        "new_link": "Saisissez votre adresse e-mail, par exemple nom@example.com.",
    },
    "sv": {
        "fill": "Fyll i det här fältet.",
        "web": "Ange en webbadress, till exempel https://example.com/page.",
        "date": "Ange ett datum som ÅÅÅÅ-MM-DD (eller en tidpunkt som 2026-10-01T09:00:00Z).",
        "whole": "Ange ett heltal, till exempel 1200.",
        "metric": f"Ange ett tal från 0 till 10{NBSP}000{NBSP}000{NBSP}000{NBSP}000.",
        "too_long": f"Ange högst 2{NBSP}048 tecken.",
        "one_of": "Välj något av följande: instagram, tiktok, youtube,",
        "partner": "Välj en av de kampanjer du är partner i.",
        "platform": "Välj en av dina plattformar.",
        "years": "Välj ett datum mellan åren 2000 och 2100.",
        "email": "Ange en e-postadress, till exempel namn@example.com.",
        "email_too_long": "Ange högst 254 tecken.",
        "same": "Det här är redan din e-postadress för utbetalning.",
        "declined": "Den här begäran är stängd: den har avslagits.",
        "replaced": "ersatt av en begäran om en annan adress",
        "withdrawn": "återkallad av dig",
        "used": "Den här inloggningslänken har redan använts. Varje länk fungerar en gång.",
        "expired": "Den här inloggningslänken har gått ut.",
        "revoked": "Den här inloggningslänken har dragits tillbaka av varumärket.",
        "unknown": "Den här inloggningslänken är inte giltig. Kontrollera att den kopierades i "
        "sin helhet.",
        "new_link": "Ange din e-postadress, till exempel namn@example.com.",
    },
}


def _speaking(api: Api, lang: str) -> None:
    """The test's browser (and its API calls) sends ``lang`` as its language."""
    api.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang


def _text(html: str) -> str:
    return unescape(" ".join(re.sub(r"<[^>]+>", " ", html).split()))


def _form_error(html: str) -> str:
    found = re.search(r'<p class="error" id="form-error">([^<]*)</p>', html)
    assert found, "no refusal of the whole form on the page"
    return unescape(found.group(1))


def _posts(api: Api) -> list[dict[str, Any]]:
    return list(api.get("/api/v1/deliverables?limit=200").json["items"])


# the post form ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_the_post_forms_refusals_are_in_the_pages_language(api: Api, lang: str) -> None:
    said = SAID[lang]
    anna = api.create_influencer("anna")  # an instagram account
    spring = api.create_campaign("spring")
    other = api.create_campaign("other")
    api.add_partner(spring["id"], anna["id"])
    _speaking(api, lang)
    signed_in(api, invite_path(api, anna["id"]))

    def send(**values: str) -> dict[str, str]:
        r = api.client.post("/portal/posts/new", data=post_form(api, **values))
        assert r.status_code == 422, r.text
        assert f'<html lang="{lang}">' in r.text
        return refusals(r.text)

    # Nothing filled in.
    empty = send(campaign_id="", platform="", url="", posted_at="")
    assert empty == {name: said["fill"] for name in ("campaign_id", "platform", "url", "posted_at")}

    # Each input wrong in its own way (marshmallow's checks and ours).
    wrong = send(
        campaign_id=spring["id"],
        platform="myspace",
        url="not-an-address",
        posted_at="yesterday",
        **{"metrics-likes": "-3", "metrics-reach": "many"},
    )
    assert wrong["platform"].startswith(said["one_of"])
    assert wrong["url"] == said["web"]
    assert wrong["posted_at"] == said["date"]
    assert wrong["metrics-likes"] == said["metric"]
    assert wrong["metrics-reach"] == said["whole"]
    too_long = send(
        campaign_id=spring["id"],
        platform="instagram",
        url="https://www.instagram.com/p/" + "x" * 2048,
        posted_at="2026-08-30T17:00",
    )
    assert too_long == {"url": said["too_long"]}

    # The domain's refusals: a campaign not theirs, a platform not theirs, a year off.
    good = {"url": "https://www.instagram.com/p/C9x2kQ/", "posted_at": "2026-08-30T17:00"}
    assert send(campaign_id=other["id"], platform="tiktok", **good) == {
        "campaign_id": said["partner"],
        "platform": said["platform"],
    }
    assert send(
        campaign_id=spring["id"], platform="instagram", **{**good, "posted_at": "1999-08-30T17:00"}
    ) == {"posted_at": said["years"]}
    assert _posts(api) == []


# the payout page ---------------------------------------------------------------------------


def _ask(api: Api, email: str) -> Any:
    page = api.client.get("/portal/payout")
    return api.client.post("/portal/payout", data={"csrf": csrf(page.text), "email": email})


def _anna_at_the_portal(api: Api, lang: str) -> dict[str, Any]:
    """anna (payouts to pay@anna.example), signed in from a browser speaking ``lang``."""
    anna = api.create_influencer("anna", payout_email="pay@anna.example")
    _speaking(api, lang)
    signed_in(api, invite_path(api, anna["id"]))
    return anna


def _requests(api: Api, influencer_id: str) -> list[dict[str, Any]]:
    return list(api.get(f"/api/v1/influencers/{influencer_id}/payout-requests").json["items"])


@pytest.mark.parametrize("lang", LANGS)
def test_the_payout_forms_refusals_are_in_the_pages_language(api: Api, lang: str) -> None:
    said = SAID[lang]
    anna = _anna_at_the_portal(api, lang)
    long_address = "a" * 60 + "@" + ("b" * 60 + ".") * 4 + "example"  # valid, 312 long
    for typed, expected in (
        ("", said["fill"]),
        ("not-an-address", said["email"]),
        ("PAY@anna.example", said["same"]),  # the address it is already
        (long_address, said["email_too_long"]),
    ):
        r = _ask(api, typed)
        assert r.status_code == 422, (typed, r.text)
        assert refusals(r.text) == {"email": expected}, typed
    assert _requests(api, anna["id"]) == []
    assert api.get(f"/api/v1/influencers/{anna['id']}").json["payout_email"] == "pay@anna.example"


@pytest.mark.parametrize("lang", LANGS)
def test_a_closed_request_is_refused_in_the_pages_language_and_stays_closed(
    api: Api, lang: str
) -> None:
    said = SAID[lang]
    anna = _anna_at_the_portal(api, lang)
    assert _ask(api, "new@anna.example").status_code == 303
    [asked] = _requests(api, anna["id"])
    page = api.client.get("/portal/payout").text  # the Withdraw button, before the brand
    r = api.post(f"/api/v1/payout-requests/{asked['id']}/decline", {"reason": "use PayPal"})
    assert r.status_code == 200, r.json

    r = api.client.post(f"/portal/payout/{asked['id']}/withdraw", data={"csrf": csrf(page)})
    assert r.status_code == 409
    assert _form_error(r.text) == said["declined"]
    [still] = _requests(api, anna["id"])
    assert (still["status"], still["reason"]) == ("declined", "use PayPal")
    # The API is not localised: its refusal stays in English, whatever the languages sent.
    r = api.post(f"/api/v1/payout-requests/{asked['id']}/confirm")
    assert r.status_code == 409
    assert r.json["error"]["message"] == "This request is closed: it was declined."


@pytest.mark.parametrize("lang", LANGS)
def test_the_payout_history_says_why_in_the_pages_language(api: Api, lang: str) -> None:
    said = SAID[lang]
    anna = _anna_at_the_portal(api, lang)
    assert _ask(api, "one@anna.example").status_code == 303
    assert _ask(api, "two@anna.example").status_code == 303  # replaces the first
    [second] = [x for x in _requests(api, anna["id"]) if x["status"] == "requested"]
    page = api.client.get("/portal/payout").text
    r = api.client.post(f"/portal/payout/{second['id']}/withdraw", data={"csrf": csrf(page)})
    assert r.status_code == 303
    history = _text(api.client.get("/portal/payout").text)
    assert said["replaced"] in history and said["withdrawn"] in history
    # Stored and answered by the API as the domain writes them.
    assert {x["email"]: x["reason"] for x in _requests(api, anna["id"])} == {
        "one@anna.example": "replaced by a request for another address",
        "two@anna.example": "withdrawn by the influencer",
    }


# the door ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_every_refused_sign_in_link_is_in_the_pages_language(
    api: Api, lang: str, frozen: Any
) -> None:
    said = SAID[lang]
    _speaking(api, lang)
    links = {}
    for reason in REFUSALS:
        influencer = api.create_influencer(f"i-{reason}")
        links[reason] = invite_path(api, influencer["id"])
        if reason == "used":
            signed_in(api, links[reason])
        elif reason == "revoked":
            api.post(f"/api/v1/influencers/{influencer['id']}/portal-access/revoke")
        elif reason == "unknown":
            links[reason] = links[reason][:-1] + ("A" if links[reason][-1] != "A" else "B")
    pages = {reason: api.client.get(path) for reason, path in links.items() if reason != "expired"}
    frozen.advance(timedelta(days=8))
    pages["expired"] = api.client.get(links["expired"])
    for reason in REFUSALS:
        assert pages[reason].status_code == 410, reason
        assert said[reason] in _text(pages[reason].text), reason


@pytest.mark.parametrize("lang", LANGS)
def test_a_refused_new_link_form_is_in_the_pages_language(api: Api, lang: str) -> None:
    _speaking(api, lang)
    page = api.client.get("/portal/new-link")
    r = api.client.post("/portal/new-link", data={"csrf": csrf(page.text), "email": "anna"})
    assert r.status_code == 422
    assert refusals(r.text) == {"email": SAID[lang]["new_link"]}


# every refusal the portal can show has its words -----------------------------------------


PROBES: tuple[object, ...] = ("", "nope", "a b", "http://[", "x" * 5000, -1, 10**20)


def _field_messages(schema: Schema) -> Iterator[str]:
    """What marshmallow says of each field of ``schema`` (and of its nested schemas) and
    of values its validators refuse: every message a form of that schema can show."""
    yield from schema.error_messages.values()
    for field in schema.fields.values():
        if isinstance(field, fields.Nested):
            yield from _field_messages(field.schema)
        values = {
            "obj_type": getattr(field, "OBJ_TYPE", ""),
            "awareness": getattr(field, "AWARENESS", ""),
            "input": "x",
        }
        for key, template in field.error_messages.items():
            if key != "format":  # writing a value out, never reading a form
                yield template.format(**values)
        for check in field.validators:
            said: list[str] = []
            for probe in PROBES:
                try:
                    check(probe)
                except ValidationError as exc:
                    said.extend(exc.messages)
                except (TypeError, ValueError):
                    pass  # a value of another type: not this check's to refuse
            assert said, f"{check!r} refuses none of the probes: add one it refuses"
            yield from said


def _domain_words(*modules: ModuleType) -> Iterator[Words]:
    """The ``Words`` a domain module states: its refusals and reasons."""
    for module in modules:
        for value in vars(module).values():
            found = value.values() if isinstance(value, dict) else [value]
            yield from (w for w in found if isinstance(w, Words))


def _every_refusal() -> list[str]:
    shown = [*_field_messages(DeliverableIn()), *_field_messages(PayoutEmailIn()), YEAR_SPAN]
    return [*shown, *_domain_words(payout, posts), *PLAIN.values(), *(w for _, w in SHAPED)]


def test_the_walk_finds_the_forms_and_the_domains_refusals() -> None:
    found = _every_refusal()
    assert "Missing data for required field." in found  # marshmallow's
    assert "must be an http(s) URL with a host" in found  # our check's
    assert "Longer than maximum length 2048." in found  # a validator's, probed
    assert payout.SAME_ADDRESS in found and posts.NOT_A_PARTNER in found  # the domain's
    assert payout.CLOSED["declined"] in found and payout.BUSY in found


@pytest.mark.parametrize("lang", LANGS)
def test_every_refusal_the_portal_can_show_has_its_words(sqlite_app: Flask, lang: str) -> None:
    catalogue = language.translations(lang)
    untranslated = []
    for message in _every_refusal():
        shown = worded(message)
        if not isinstance(shown, Words) or catalogue.gettext(shown.template) == shown.template:
            untranslated.append(message)
            continue
        with sqlite_app.test_request_context(headers={"Accept-Language": lang}):
            written = words(shown)
        assert written and written != shown, (message, written)
    assert untranslated == [], (
        f"{lang}: word these in service.forms or mark them N_ in the domain, then translate "
        "them (docs/portal.md)"
    )
