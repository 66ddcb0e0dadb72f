from tests.helpers import EVERY_WEEKDAY, auth, make_world, request_body


def test_talk_now_request_is_offered_and_accepted(app, client, clock):
    world = make_world(app, client)
    world.add_supporter("River Otter", weekly=EVERY_WEEKDAY)
    created = client.post(
        "/api/v1/requests",
        json=request_body(note="rough week"),
    )
    assert created.status_code == 201, created.json
    body = created.json
    assert body["status"] == "offered"
    assert body["token"].startswith("plr_")
    token = world.supporter_token("River Otter")
    offers = client.get("/api/v1/offers?program=acme", headers=auth(token))
    assert offers.status_code == 200, offers.json
    [offer] = offers.json
    accepted = client.post(f"/api/v1/offers/{offer['id']}/accept", headers=auth(token))
    assert accepted.status_code == 200, accepted.json
    view = client.get(f"/api/v1/requests/{body['id']}", headers=auth(body["token"]))
    assert view.json["status"] == "matched"
    assert view.json["supporter"]["alias"] == "River Otter"


def test_landing_page_links_each_program_and_says_it_is_no_crisis_service(app, client):
    make_world(app, client)
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "not a crisis or emergency service" in html
    assert "/api/v1/programs/acme/intake" in html and "/api/v1/slots?program=acme" in html
