// One region's membership store: Azure Managed Redis (Azure Cache for Redis is being retired; Managed Redis is its
// successor). Orleans keeps the cluster's membership table in it (one hash per cluster), and the Orleans maintainers
// call a lost membership table unsupported, so the data is durable: append-only-file persistence every second,
// a replica (high availability), and no eviction ever. Clients connect with TLS and the access key: Entra sign-in for
// Redis needs a package this project's feed lacks. The key never leaves Azure in a setting: the whole StackExchange.Redis
// connection string is written to the region's Key Vault as the secret `redis-connection-string`.
param name string
param location string

@description('Azure Managed Redis SKU; membership is a few KB, so the smallest Balanced size is plenty.')
param skuName string

@description('The region\'s Key Vault (this resource group) that receives the connection string.')
param keyVaultName string
param tags object = {}

@description('Name of the Key Vault secret holding the connection string (infra/k8s/base/secretproviderclass.yaml).')
param secretName string

resource redis 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: 'Enabled'
    // Reached from the AKS nodes over TLS with the key; a private endpoint is the next step where policy asks for one.
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: redis
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    // One endpoint (the service's proxy spreads the shards): the client needs no cluster support.
    clusteringPolicy: 'EnterpriseCluster'
    evictionPolicy: 'NoEviction'
    persistence: {
      aofEnabled: true
      aofFrequency: '1s'
    }
    accessKeysAuthentication: 'Enabled'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource connectionString 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = {
  parent: vault
  name: secretName
  properties: {
    contentType: 'StackExchange.Redis connection string'
    value: '${redis.properties.hostName}:${database.properties.port},password=${database.listKeys().primaryKey},ssl=True,abortConnect=False'
  }
}

output hostName string = redis.properties.hostName
