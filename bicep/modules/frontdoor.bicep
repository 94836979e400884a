// Routing on the Front Door endpoint: one origin per regional cluster, reached through Private Link (the silos'
// internal load balancer is published as a Private Link service by AKS: infra/k8s/base/service.yaml), so nothing but
// Front Door can reach a cluster. Latency-based: each client goes to the fastest healthy region (regions within
// `additionalLatencyInMilliseconds` of it share the load); a region whose /health/ready fails (storage unreachable)
// is taken out.
//
// Caching: only crate downloads may be cached at the edge, and only what the origin marks cacheable. Stored crate files
// are answered 200 with `Cache-Control: public, max-age=31536000, immutable` and never change. A request that carries
// an Authorization header (a token: private crates, or a mirror that requires one) is never answered from nor stored
// in the cache. Anything else on a download route that comes without a Cache-Control (errors: 404, 502, 503) lives at
// most one second at the edge instead of Front Door's default of one to three days. Every other route is never cached.
param profileName string
param endpointName string

@description('One per region: { region, hostName (the internal load balancer\'s address), privateLinkServiceId }.')
param origins array

resource profile 'Microsoft.Cdn/profiles@2025-04-15' existing = {
  name: profileName
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2025-04-15' existing = {
  parent: profile
  name: endpointName
}

resource originGroup 'Microsoft.Cdn/profiles/originGroups@2025-04-15' = {
  parent: profile
  name: 'regions'
  properties: {
    loadBalancingSettings: {
      sampleSize: 4
      successfulSamplesRequired: 3
      additionalLatencyInMilliseconds: 50
    }
    healthProbeSettings: {
      probePath: '/health/ready'
      probeRequestType: 'GET'
      probeProtocol: 'Http'
      probeIntervalInSeconds: 30
    }
    sessionAffinityState: 'Disabled'
  }
}

resource regionOrigins 'Microsoft.Cdn/profiles/originGroups/origins@2025-04-15' = [for origin in origins: {
  parent: originGroup
  name: origin.region
  properties: {
    hostName: origin.hostName
    originHostHeader: origin.hostName
    httpPort: 80
    httpsPort: 443
    priority: 1
    weight: 1000
    enabledState: 'Enabled'
    enforceCertificateNameCheck: true
    // Plain HTTP inside Private Link: the traffic never leaves Microsoft's network, and the cluster has no certificate.
    sharedPrivateLinkResource: {
      privateLink: {
        id: origin.privateLinkServiceId
      }
      privateLinkLocation: origin.region
      requestMessage: 'Azure Front Door ${profileName} to the OrleansCrates cluster in ${origin.region}'
    }
  }
}]

resource downloadCaching 'Microsoft.Cdn/profiles/ruleSets@2025-04-15' = {
  parent: profile
  name: 'downloads'
}

resource authenticatedBypassesCache 'Microsoft.Cdn/profiles/ruleSets/rules@2025-04-15' = {
  parent: downloadCaching
  name: 'authenticated'
  properties: {
    order: 1
    conditions: [
      {
        name: 'RequestHeader'
        parameters: {
          typeName: 'DeliveryRuleRequestHeaderConditionParameters'
          selector: 'Authorization'
          operator: 'Any'
          negateCondition: false
          transforms: []
        }
      }
    ]
    actions: [
      {
        // No cacheConfiguration: caching is off for this request (neither served from nor stored in the cache).
        name: 'RouteConfigurationOverride'
        parameters: {
          typeName: 'DeliveryRuleRouteConfigurationOverrideActionParameters'
        }
      }
    ]
    matchProcessingBehavior: 'Stop'
  }
}

// Anonymous requests: the origin's Cache-Control decides (a 200 crate file is public and immutable; a redirect to
// storage, Mirror:Downloads:Redirect, says no-store and is never kept; the silos leave redirects off behind the
// edge). Only an answer without Cache-Control (an error) gets a lifetime here, and a short one.
resource uncacheableErrorsExpire 'Microsoft.Cdn/profiles/ruleSets/rules@2025-04-15' = {
  parent: downloadCaching
  name: 'anonymous'
  dependsOn: [
    authenticatedBypassesCache
  ]
  properties: {
    order: 2
    conditions: []
    actions: [
      {
        name: 'RouteConfigurationOverride'
        parameters: {
          typeName: 'DeliveryRuleRouteConfigurationOverrideActionParameters'
          cacheConfiguration: {
            cacheBehavior: 'OverrideIfOriginMissing'
            cacheDuration: '00:00:01'
            queryStringCachingBehavior: 'IgnoreQueryString'
            isCompressionEnabled: 'Disabled'
          }
        }
      }
    ]
    matchProcessingBehavior: 'Stop'
  }
}

resource everything 'Microsoft.Cdn/profiles/afdEndpoints/routes@2025-04-15' = {
  parent: endpoint
  name: 'all'
  dependsOn: [
    regionOrigins
  ]
  properties: {
    originGroup: {
      id: originGroup.id
    }
    patternsToMatch: [
      '/*'
    ]
    supportedProtocols: [
      'Http'
      'Https'
    ]
    forwardingProtocol: 'HttpOnly'
    linkToDefaultDomain: 'Enabled'
    httpsRedirect: 'Enabled'
    enabledState: 'Enabled'
  }
}

resource downloads 'Microsoft.Cdn/profiles/afdEndpoints/routes@2025-04-15' = {
  parent: endpoint
  name: 'downloads'
  dependsOn: [
    regionOrigins
    uncacheableErrorsExpire
  ]
  properties: {
    originGroup: {
      id: originGroup.id
    }
    // Mirror downloads (/crates/{name}/{version}/download) and private ones (/private/crates/...).
    patternsToMatch: [
      '/crates/*'
      '/private/crates/*'
    ]
    supportedProtocols: [
      'Http'
      'Https'
    ]
    forwardingProtocol: 'HttpOnly'
    linkToDefaultDomain: 'Enabled'
    httpsRedirect: 'Enabled'
    enabledState: 'Enabled'
    ruleSets: [
      {
        id: downloadCaching.id
      }
    ]
    cacheConfiguration: {
      queryStringCachingBehavior: 'IgnoreQueryString'
      compressionSettings: {
        // cargo hashes the bytes it receives: a crate file must arrive exactly as stored.
        isCompressionEnabled: false
      }
    }
  }
}

output endpointHostName string = endpoint.properties.hostName
