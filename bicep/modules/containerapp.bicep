// One region's cluster: Log Analytics, a Container Apps environment and the app itself (stateless replicas that share
// nothing but the storage account), scaled on concurrent HTTP requests. Settings reach the app as `Section__Key`
// environment variables, exactly the configuration keys the app reads (tests/OrleansCrates.EndToEnd.Tests/
// BicepConfigurationTests.cs checks this).
param namePrefix string
param location string
param containerImage string
param containerRegistryServer string = ''
param identityId string
param identityClientId string
param storageBlobEndpoint string
param blobContainerName string
param minReplicas int
param maxReplicas int
param concurrentRequestsPerReplica int
param upstreamIndexUrl string
param contact string
param publicUrl string
@secure()
param alertWebhookUrl string = ''
param tags object = {}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${namePrefix}-logs'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource managedEnvironment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${namePrefix}-env'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
    zoneRedundant: false
  }
}

var baseEnv = [
  { name: 'Storage__Provider', value: 'AzureBlob' }
  { name: 'Storage__AzureBlob__ServiceUri', value: storageBlobEndpoint }
  { name: 'Storage__AzureBlob__Container', value: blobContainerName }
  { name: 'Storage__AzureBlob__ManagedIdentityClientId', value: identityClientId }
  { name: 'Mirror__Upstreams__0__IndexUrl', value: upstreamIndexUrl }
  { name: 'Mirror__UserAgentContact', value: contact }
  { name: 'Mirror__PublicUrl', value: publicUrl }
  { name: 'Logging__Console__FormatterName', value: 'json' }
]

var alertEnv = empty(alertWebhookUrl) ? [] : [
  { name: 'Alerts__WebhookUrl', secretRef: 'alert-webhook-url' }
]

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: namePrefix
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    managedEnvironmentId: managedEnvironment.id
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: 8080
        transport: 'http'
        allowInsecure: false
      }
      registries: empty(containerRegistryServer) ? [] : [
        {
          server: containerRegistryServer
          identity: identityId
        }
      ]
      secrets: empty(alertWebhookUrl) ? [] : [
        {
          name: 'alert-webhook-url'
          value: alertWebhookUrl
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'orleanscrates'
          image: containerImage
          resources: {
            cpu: json('1.0')
            memory: '2Gi'
          }
          env: concat(baseEnv, alertEnv)
          probes: [
            {
              type: 'Startup'
              httpGet: {
                path: '/health/live'
                port: 8080
              }
              periodSeconds: 2
              failureThreshold: 30
            }
            {
              type: 'Liveness'
              httpGet: {
                path: '/health/live'
                port: 8080
              }
              periodSeconds: 10
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/health/ready'
                port: 8080
              }
              periodSeconds: 10
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http-concurrency'
            http: {
              metadata: {
                concurrentRequests: string(concurrentRequestsPerReplica)
              }
            }
          }
        ]
      }
    }
  }
}

output fqdn string = app.properties.configuration.ingress.fqdn
output name string = app.name
