// The user-assigned managed identity the app runs as, holding Storage Blob Data Contributor on each storage account.
param name string
param location string
param storageAccountNames array
param tags object = {}

// Storage Blob Data Contributor (built-in role).
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

resource accounts 'Microsoft.Storage/storageAccounts@2023-05-01' existing = [for accountName in storageAccountNames: {
  name: accountName
}]

resource blobDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (accountName, i) in storageAccountNames: {
  name: guid(accounts[i].id, identity.id, storageBlobDataContributor)
  scope: accounts[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}]

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
