# Automatic backups: the file system joins AWS Backup's default EFS plan
# (daily, kept 35 days, in the vault EFS makes for it). The recovery points
# are AWS Backup's, not the stack's: they outlive the file system and a
# destroy, and expire on their own.
resource "aws_efs_backup_policy" "this" {
  count = var.backups ? 1 : 0

  file_system_id = aws_efs_file_system.this.id

  backup_policy {
    status = "ENABLED"
  }
}
