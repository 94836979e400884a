// The Front Door profile and its endpoint, made first so every region's app can be told its public URL
// (Mirror:PublicUrl goes into config.json's `dl`, so downloads come back through Front Door too).
param profileName string
param endpointName string
param tags object = {}

resource profile 'Microsoft.Cdn/profiles@2024-02-01' = {
  name: profileName
  location: 'global'
  tags: tags
  sku: {
    name: 'Standard_AzureFrontDoor'
  }
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' = {
  parent: profile
  name: endpointName
  location: 'global'
  tags: tags
  properties: {
    enabledState: 'Enabled'
  }
}

output profileName string = profile.name
output endpointName string = endpoint.name
output hostName string = endpoint.properties.hostName
