using System.Text.Json;
using System.Text.Json.Serialization;

namespace Aitbc.Coordinator.Client;

/// <summary>
/// The coordinator's wire format, source-generated: camelCase names (web defaults), amounts as decimal strings (their
/// converter), nulls written. A dispatch message's <c>type</c> may come anywhere in its object.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(DispatchMessage))]
[JsonSerializable(typeof(JobInput))]
[JsonSerializable(typeof(SubmitJobRequest))]
[JsonSerializable(typeof(Job))]
[JsonSerializable(typeof(List<Job>))]
[JsonSerializable(typeof(JobResult))]
[JsonSerializable(typeof(PostResultRequest))]
[JsonSerializable(typeof(ResultAck))]
[JsonSerializable(typeof(FailJobRequest))]
[JsonSerializable(typeof(FailJobResponse))]
[JsonSerializable(typeof(CancelJobResponse))]
[JsonSerializable(typeof(JobStateEvent))]
[JsonSerializable(typeof(JobTokenEvent))]
[JsonSerializable(typeof(RegisterProviderRequest))]
[JsonSerializable(typeof(HeartbeatResponse))]
[JsonSerializable(typeof(ProviderView))]
[JsonSerializable(typeof(ModelCatalog))]
public sealed partial class CoordinatorJson : JsonSerializerContext;
