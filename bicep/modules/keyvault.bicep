// One region's Key Vault: holds the secrets the silos need: the Redis connection string with its access key (written
// by redis.bicep) and, when given, the alerts webhook URL (infra/k8s/components/alerts-webhook). Azure RBAC only (no access policies); the silo identity may read secrets and nothing else.
// The pods get the secret through the Key Vault CSI secrets-store driver (infra/k8s/base/secretproviderclass.yaml),
// never as a plain setting.
param name string
param location string

@description('The silo identity\'s principal id: given Key Vault Secrets User on this vault.')
param readerPrincipalId string

@description('Alerts:WebhookUrl (it usually carries a token); empty: no alerts secret.')
@secure()
param alertWebhookUrl string = ''

param tags object = {}

// Key Vault Secrets User (built-in role): read secret values.
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource alertWebhook 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (!empty(alertWebhookUrl)) {
  parent: vault
  name: 'alerts-webhook-url'
  properties: {
    contentType: 'Alerts:WebhookUrl'
    value: alertWebhookUrl
  }
}

output name string = vault.name
output tenantId string = vault.properties.tenantId
