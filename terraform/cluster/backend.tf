# Partial configuration: kforge passes bucket, key (one per environment),
# region, use_lockfile=true and, for the emulator, endpoints with
# -backend-config. A Terraform user does the same, for example:
#   terraform init -backend-config=bucket=<state-bucket> \
#     -backend-config=key=<env>/terraform.tfstate -backend-config=region=<region> \
#     -backend-config=use_lockfile=true -backend-config=encrypt=true
terraform {
  backend "s3" {}
}
