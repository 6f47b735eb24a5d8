"""The JWT issuer billow trusts: a Cognito user pool made here, or an existing issuer from the context.

billow verifies tokens in code (functions/core/auth.py: RS256 against the issuer's JWKS, iss, exp, and
aud or Cognito's client_id), so the stack only has to tell the app three things: BILLOW_JWT_ISSUER,
BILLOW_JWKS_URL and BILLOW_JWT_AUDIENCE (the accepted audiences / Cognito app client ids).

The Cognito pool (no self sign-up: operators create users) has a resource server `billow` with the four
scopes, so access tokens carry `billow/billing:read` etc. (the app strips the `billow/` prefix) and
three app clients:

- console: public (PKCE, no secret), authorization-code grant through the hosted UI, for the web and
  mobile consoles: billing:read + billing:write; account access still needs a members record;
- operator: confidential, client-credentials grant, billing:admin + billing:read, for the operators'
  back office, which keeps its client secret and authenticates its own staff;
- usage: confidential, client-credentials grant, billing:usage only, for metering services.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from functions.core.auth import ADMIN, READ, USAGE, WRITE
from infra.console import CognitoConsole
from infra.stages import StageSettings

RESOURCE_SERVER = "billow"  # the scope prefix the app strips is f"{RESOURCE_SERVER}/"


@dataclass(frozen=True)
class IssuerSettings:
    issuer: str
    jwks_url: str
    audience: str  # comma-separated, as BILLOW_JWT_AUDIENCE


class Identity(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageSettings) -> None:
        super().__init__(scope, construct_id)
        self.user_pool: cognito.UserPool | None = None
        self.console: CognitoConsole | None = None  # the hosted UI and client the console signs in with
        self.console_client: cognito.UserPoolClient | None = None
        if stage.existing_issuer:
            existing = stage.existing_issuer
            self.settings = IssuerSettings(existing.issuer, existing.jwks_url, ",".join(existing.audiences))
        else:
            self.settings = self._cognito(stage)

    def _cognito(self, stage: StageSettings) -> IssuerSettings:
        pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"billow-{stage.name}",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=False,
            ),
            feature_plan=cognito.FeaturePlan.LITE,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.user_pool = pool
        scopes = {
            name: cognito.ResourceServerScope(scope_name=name, scope_description=description)
            for name, description in (
                (READ, "read billing data of the accounts the caller is a member of"),
                (WRITE, "change billing data of the accounts the caller owns"),
                (ADMIN, "operator routes, on any account"),
                (USAGE, "POST /v1/usage only"),
            )
        }
        server = pool.add_resource_server(
            "ResourceServer",
            identifier=RESOURCE_SERVER,
            user_pool_resource_server_name="billow",
            scopes=list(scopes.values()),
        )

        def oauth_scopes(*names: str) -> list[cognito.OAuthScope]:
            return [cognito.OAuthScope.resource_server(server, scopes[name]) for name in names]

        prefix = stage.cognito_domain_prefix or Fn.join("-", ["billow", stage.name, Aws.ACCOUNT_ID])
        domain = pool.add_domain("Domain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=prefix))
        common = {
            "access_token_validity": Duration.hours(1),
            "enable_token_revocation": True,
            "prevent_user_existence_errors": True,
        }
        console = pool.add_client(
            "ConsoleClient",
            user_pool_client_name="console",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, *oauth_scopes(READ, WRITE)],
                callback_urls=list(stage.console_callback_urls),
                logout_urls=list(stage.console_logout_urls),
            ),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            **common,
        )
        operator = pool.add_client(
            "OperatorClient",
            user_pool_client_name="operator",
            generate_secret=True,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(client_credentials=True), scopes=oauth_scopes(ADMIN, READ)
            ),
            **common,
        )
        usage = pool.add_client(
            "UsageClient",
            user_pool_client_name="usage",
            generate_secret=True,
            o_auth=cognito.OAuthSettings(flows=cognito.OAuthFlows(client_credentials=True), scopes=oauth_scopes(USAGE)),
            **common,
        )
        self.console = CognitoConsole(base_url=domain.base_url(), client_id=console.user_pool_client_id)
        self.console_client = console
        issuer = f"https://{pool.user_pool_provider_url}"  # ProviderURL has no scheme
        stack = Stack.of(self)  # outputs at the stack's top level: plain names for scripts and docs
        CfnOutput(stack, "UserPoolId", value=pool.user_pool_id)
        CfnOutput(stack, "ConsoleClientId", value=console.user_pool_client_id)
        CfnOutput(stack, "OperatorClientId", value=operator.user_pool_client_id)
        CfnOutput(stack, "UsageClientId", value=usage.user_pool_client_id)
        CfnOutput(stack, "TokenEndpoint", value=domain.base_url() + "/oauth2/token")
        CfnOutput(stack, "HostedUi", value=domain.base_url())
        return IssuerSettings(
            issuer=issuer,
            jwks_url=f"{issuer}/.well-known/jwks.json",
            audience=Fn.join(
                ",", [console.user_pool_client_id, operator.user_pool_client_id, usage.user_pool_client_id]
            ),
        )
