def test_smoke(api):
    acct = api.create_account()
    tok = api.member_token(acct["id"])
    s, d, h = api.call("GET", f"/v1/accounts/{acct['id']}/summary", token=tok)
    print(s, d, h)
    assert s == 200
