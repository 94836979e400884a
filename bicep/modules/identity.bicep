// The identity one region's silos run as: a user-assigned managed identity, federated with the cluster's OIDC issuer
// for exactly one Kubernetes service account (workload identity: the pod exchanges its projected service-account token
// for an Entra token, so no secret exists anywhere). It holds Storage Blob Data Contributor on the shared storage
// account; its Key Vault role is given in keyvault.bicep, next to the vault.
param name string
param location string

@description('The regional AKS cluster\'s OIDC issuer URL.')
param oidcIssuerUrl string

@description('Namespace and name of the silos\' service account (infra/k8s/base/serviceaccount.yaml).')
param kubernetesNamespace string
param serviceAccountName string

@description('The storage account every region shares (in this resource group).')
param storageAccountName string
param tags object = {}

// Storage Blob Data Contributor (built-in role): read, write and delete blobs; nothing on the account itself.
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

resource federation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2024-11-30' = {
  parent: identity
  name: 'aks-${serviceAccountName}'
  properties: {
    issuer: oidcIssuerUrl
    subject: 'system:serviceaccount:${kubernetesNamespace}:${serviceAccountName}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

resource account 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource blobDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identity.id, storageBlobDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
