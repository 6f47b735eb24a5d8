"""The billing console in AWS (optional per stage: the settings' consoleHosting): S3 + CloudFront.

- a private bucket (all public access blocked, ACLs off, TLS only), read by CloudFront only through an
  origin access control (OAC: the bucket policy names this distribution);
- a CloudFront distribution (HTTPS only, index.html at /, a custom domain and its us-east-1 ACM
  certificate when the settings name one, else CloudFront's own domain) whose response headers policy
  sets a Content-Security-Policy allowing only 'self', the API's origin, Stripe (Stripe.js from
  js.stripe.com, its API, its frames and 3-D Secure pages on js.stripe.com / hooks.stripe.com) and the
  stage's Cognito domain (its hosted UI and token endpoint), plus HSTS, nosniff, no framing, no referrer;
- console/ deployed as it is (a BucketDeployment), with the deployed config.json written by the stack
  from its own values: apiUrl, the publishable key (settings), and Cognito {domain, clientId,
  redirectUri, scope}; console/config.json of `make run` is never uploaded.

Without a custom domain, the console's origin is the distribution's domain, known only once it exists:
the API's CORS origins, PayPal returns, e-mail links and Cognito's callback URLs come from the settings'
consoleOrigins (neither the functions' environment nor the console client can name the distribution:
the CSP names the API, whose function names the client — a cycle), so add the `ConsoleUrl` output to
consoleOrigins after the first deploy (docs/deploy.md). Files are cached 1 minute (5 at most): a
deploy is visible within 5 minutes, with no invalidation (CDK would grant it on every distribution).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.stages import StageSettings
from infra.suppressions import skip

STRIPE_JS = "https://js.stripe.com"
STRIPE_API = "https://api.stripe.com"
STRIPE_HOOKS = "https://hooks.stripe.com"  # 3-D Secure and redirect pages Stripe.js frames
CONSOLE_SCOPES = ("openid", "email", "billow/billing:read", "billow/billing:write")
NOT_DEPLOYED = ("config.json",)  # make run's own config.json (git-ignored) stays on the laptop


@dataclass(frozen=True)
class CognitoConsole:
    """The stage's Cognito hosted UI for the console (None with an existing issuer)."""

    base_url: str  # https://<prefix>.auth.<region>.amazoncognito.com
    client_id: str


def content_security_policy(api_origin: str, cognito_origin: str | None) -> str:
    """The console's CSP: only 'self', the API, Stripe and the stage's Cognito domain."""
    cognito = [cognito_origin] if cognito_origin else []
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", STRIPE_JS],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https://*.stripe.com"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", api_origin, STRIPE_API, *cognito],
        "frame-src": [STRIPE_JS, STRIPE_HOOKS],
        "form-action": ["'self'", *cognito],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class ConsoleSite(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageSettings,
        api_origin: str,
        api_url: str,
        cognito: CognitoConsole | None,
        console_dir: Path,
    ) -> None:
        super().__init__(scope, construct_id)
        hosting = stage.console_hosting
        if hosting is None:
            raise ValueError(f"stage {stage.name!r} does not host the console")
        if not (console_dir / "index.html").is_file():
            raise ValueError(f"{console_dir}/index.html is missing: the console app is deployed from console/")
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(id="old-versions", noncurrent_version_expiration=Duration.days(30))],
        )
        skip(self.bucket, "CKV_AWS_18")
        self.csp = content_security_policy(api_origin, cognito.base_url if cognito else None)
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            response_headers_policy_name=f"billow-{stage.name}-console",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=self.csp, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
        )
        custom = hosting.domain_name is not None
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"billow {stage.name} console",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy(
                    self,
                    "Cache",
                    cache_policy_name=f"billow-{stage.name}-console",
                    comment="a deploy is visible within 5 minutes, without invalidations",
                    default_ttl=Duration.minutes(1),
                    max_ttl=Duration.minutes(5),
                    min_ttl=Duration.seconds(0),
                    enable_accept_encoding_gzip=True,
                    enable_accept_encoding_brotli=True,
                ),
                response_headers_policy=headers,
            ),
            domain_names=[hosting.domain_name] if custom else None,
            certificate=acm.Certificate.from_certificate_arn(self, "Certificate", hosting.certificate_arn)
            if custom
            else None,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        )
        skip(self.distribution, "CKV_AWS_68", "CKV_AWS_86")
        if not custom:
            skip(self.distribution, "CKV_AWS_174")
        self.origin = f"https://{hosting.domain_name}" if custom else f"https://{self.distribution.domain_name}"
        self.config = {
            "apiUrl": api_url,
            "stripeUrl": STRIPE_API,
            "stripeJsUrl": f"{STRIPE_JS}/v3/",
            "publishableKey": hosting.publishable_key,
            "cognito": {
                "domain": cognito.base_url,
                "clientId": cognito.client_id,
                "redirectUri": f"{self.origin}/",
                "scope": " ".join(CONSOLE_SCOPES),  # console/cognito.js: OAuth's space-separated scope
            }
            if cognito
            else None,
            "locale": "en",
            "demoUsers": [],
        }
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deploy",
            sources=[
                s3deploy.Source.asset(str(console_dir), exclude=list(NOT_DEPLOYED)),
                s3deploy.Source.json_data("config.json", self.config),
            ],
            destination_bucket=self.bucket,
            # no invalidation: CDK would grant cloudfront:CreateInvalidation on "*"; the cache keeps 5 minutes
            prune=True,
            memory_limit=512,
        )
        self._skip_deployment_handler()
        CfnOutput(Stack.of(self), "ConsoleUrl", value=self.origin)
        CfnOutput(Stack.of(self), "ConsoleBucket", value=self.bucket.bucket_name)

    def _skip_deployment_handler(self) -> None:
        """The BucketDeployment's singleton function (CDK's, one per stack) gets the functions' reasons."""
        for child in Stack.of(self).node.find_all():
            if isinstance(child, lambda_.CfnFunction) and "CDKBucketDeployment" in child.node.path:
                skip(child, "CKV_AWS_117", "CKV_AWS_116", "CKV_AWS_115", "CKV_AWS_173")
                # its DependsOn repeats the role its Role property already references (cfn-lint W3005)
                stack = Stack.of(child)
                policies = [
                    stack.get_logical_id(c) for c in child.node.scope.node.find_all() if isinstance(c, iam.CfnPolicy)
                ]
                child.add_override("DependsOn", sorted(policies))
