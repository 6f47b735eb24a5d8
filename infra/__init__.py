"""billow's AWS deployment as a CDK app (docs/deploy.md): `make synth` writes the templates offline."""
