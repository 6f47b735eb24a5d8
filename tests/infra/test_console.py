"""The console in AWS (infra/console.py): a private bucket read by CloudFront through OAC, a CSP allowing
only 'self', the API, Stripe and the stage's Cognito domain, and config.json written by the stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.console import content_security_policy
from tests.infra.test_stack import logical_id, props_of, resources


def _flat(value: Any) -> str:
    """A CloudFormation string value with its intrinsic functions written out, for matching."""
    return json.dumps(value, sort_keys=True)


def _console_bucket(template: dict[str, Any]) -> str:
    (found,) = [k for k in resources(template, "AWS::S3::Bucket") if k.startswith("ConsoleBucket")]
    return found


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_console_bucket_is_private_and_read_by_this_distribution_only(synthesized, stage):
    template = synthesized.templates[stage]
    bucket_id = _console_bucket(template)
    props = template["Resources"][bucket_id]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "WebsiteConfiguration" not in props
    statements = props_of(template, "AWS::S3::BucketPolicy", Bucket={"Ref": bucket_id})["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    distribution = logical_id(template, "AWS::CloudFront::Distribution")
    assert distribution in _flat(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    config = props_of(template, "AWS::CloudFront::Distribution")["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, no legacy OAI
    assert "OriginAccessControlId" in origin
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["DefaultRootObject"] == "index.html"


def _csp(template: dict[str, Any]) -> str:
    policy = props_of(template, "AWS::CloudFront::ResponseHeadersPolicy")["ResponseHeadersPolicyConfig"]
    return _flat(policy["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"])


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_csp_allows_only_self_the_api_stripe_and_the_stages_cognito(synthesized, stage):
    template = synthesized.templates[stage]
    csp = _csp(template)
    domain = logical_id(template, "AWS::Cognito::UserPoolDomain")
    assert "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}" in csp
    assert f'{{"Ref": "{domain}"}}, ".auth.", {{"Ref": "AWS::Region"}}, ".amazoncognito.com' in csp
    text = content_security_policy("https://API", "https://COGNITO")
    directives = dict(d.split(" ", 1) for d in text.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self' https://js.stripe.com"
    assert directives["connect-src"] == "'self' https://API https://api.stripe.com https://COGNITO"
    assert directives["frame-src"] == "https://js.stripe.com https://hooks.stripe.com"
    assert directives["form-action"] == "'self' https://COGNITO"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    hosts = {token for value in directives.values() for token in value.split() if token.startswith("https://")}
    assert hosts == {
        "https://API",
        "https://COGNITO",
        "https://js.stripe.com",
        "https://api.stripe.com",
        "https://hooks.stripe.com",
        "https://*.stripe.com",
    }
    assert "unsafe-inline" not in text and "unsafe-eval" not in text and "*" not in directives["connect-src"]


def test_the_csp_has_no_cognito_with_an_existing_issuer():
    assert "amazoncognito" not in content_security_policy("https://API", None)


def _deployed_config(synth, stage: str) -> tuple[dict[str, Any], dict[str, Any]]:
    template = synth.templates[stage]
    (deploy,) = resources(template, "Custom::CDKBucketDeployment").values()
    props = deploy["Properties"]
    keys = [k.removesuffix(".zip") for k in props["SourceObjectKeys"]]
    found = [synth.outdir / f"asset.{k}" / "config.json" for k in keys]
    (config_file,) = [f for f in found if f.is_file()]
    text = config_file.read_text()
    markers = next(m for m in props["SourceMarkers"] if m)
    for marker, value in markers.items():
        text = text.replace(marker, json.dumps(_flat(value)))
    return json.loads(text), props


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_deployed_config_json_comes_from_the_stacks_values(synthesized, stage):
    config, props = _deployed_config(synthesized, stage)
    template = synthesized.templates[stage]
    client = logical_id(template, "AWS::Cognito::UserPoolClient", ClientName="console")
    assert "${RestAPI}.execute-api" in config["apiUrl"] and config["apiUrl"].endswith('/api/\\""]]}')
    assert config["publishableKey"].startswith("pk_test_51NimbusCi")
    assert client in config["cognito"]["clientId"]
    assert "amazoncognito.com" in config["cognito"]["domain"]
    assert config["cognito"]["scope"] == "openid email billow/billing:read billow/billing:write"
    assert config["demoUsers"] == []
    expected_redirect = "https://billing.nimbus-ci.fr/" if stage == "prod" else "ConsoleDistribution"
    assert expected_redirect in config["cognito"]["redirectUri"]
    assert props["DestinationBucketName"] == {"Ref": _console_bucket(template)}
    # the console's own directory is deployed as is, without make run's config.json
    (directory,) = [
        synthesized.outdir / f"asset.{k.removesuffix('.zip')}"
        for k in props["SourceObjectKeys"]
        if (synthesized.outdir / f"asset.{k.removesuffix('.zip')}" / "index.html").is_file()
    ]
    assert not (directory / "config.json").exists()


def test_cognito_sends_the_browser_back_to_the_console_origins(synthesized):
    dev = props_of(synthesized.templates["dev"], "AWS::Cognito::UserPoolClient", ClientName="console")
    assert dev["CallbackURLs"] == ["https://billing-dev.nimbus-ci.fr/"]
    prod = props_of(synthesized.templates["prod"], "AWS::Cognito::UserPoolClient", ClientName="console")
    assert prod["CallbackURLs"] == ["https://billing.nimbus-ci.fr/", "https://admin.nimbus-ci.fr/"]


def test_a_custom_domain_gets_its_certificate_and_tls_1_2(synthesized):
    config = props_of(synthesized.templates["prod"], "AWS::CloudFront::Distribution")["DistributionConfig"]
    assert config["Aliases"] == ["billing.nimbus-ci.fr"]
    assert config["ViewerCertificate"]["AcmCertificateArn"].startswith("arn:aws:acm:us-east-1:")
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert config["ViewerCertificate"]["SslSupportMethod"] == "sni-only"


def test_a_stage_without_hosting_has_no_console(workers_prod):
    assert resources(workers_prod, "AWS::CloudFront::Distribution") == {}
    assert "ConsoleUrl" not in workers_prod["Outputs"]


def test_the_stand_in_console_is_only_for_tests():
    assert Path(__file__).with_name("console_standin").joinpath("index.html").is_file()
