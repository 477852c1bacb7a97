using Freshet.Protos.Serving;
using Freshet.Serving;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;

namespace Freshet.Server.Grpc;

/// <summary>
/// Binds <see cref="ServingServiceImpl"/> to Feast's <c>feast.serving.ServingService</c> routes with the same
/// service and method names and request messages as the generated code, but with the online answer marshalled by
/// <see cref="ProtoAnswer"/> from the <see cref="OnlineResponse"/> itself (the wire bytes are the same).
/// </summary>
internal sealed class ServingMethods : IServiceMethodProvider<ServingServiceImpl>
{
    private const string Service = "feast.serving.ServingService";

    private static readonly Method<GetFeastServingInfoRequest, GetFeastServingInfoResponse> ServingInfo = new(
        MethodType.Unary, Service, "GetFeastServingInfo", MessageMarshaller(GetFeastServingInfoRequest.Parser), MessageMarshaller(GetFeastServingInfoResponse.Parser));

    private static readonly Method<GetOnlineFeaturesRequest, OnlineResponse> OnlineFeatures = new(
        MethodType.Unary, Service, "GetOnlineFeatures", MessageMarshaller(GetOnlineFeaturesRequest.Parser), Marshallers.Create<OnlineResponse>(WriteAnswer, ReadAnswer));

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<ServingServiceImpl> context)
    {
        context.AddUnaryMethod(ServingInfo, [], (service, request, call) => service.GetFeastServingInfo(request, call));
        context.AddUnaryMethod(OnlineFeatures, [], (service, request, call) => service.GetOnlineFeatures(request, call));
    }

    private static Marshaller<T> MessageMarshaller<T>(MessageParser<T> parser)
        where T : class, IMessage<T> => Marshallers.Create<T>(
        (message, context) =>
        {
            context.SetPayloadLength(message.CalculateSize());
            message.WriteTo(context.GetBufferWriter());
            context.Complete();
        },
        context => parser.ParseFrom(context.PayloadAsReadOnlySequence()));

    private static void WriteAnswer(OnlineResponse response, SerializationContext context)
    {
        var size = ProtoAnswer.Size(response);
        context.SetPayloadLength(size);
        ProtoAnswer.Write(response, size, context.GetBufferWriter());
        context.Complete();
    }

    // The server only writes answers; a client reads them with the generated GetOnlineFeaturesResponse.
    private static OnlineResponse ReadAnswer(DeserializationContext context) =>
        throw new NotSupportedException("the server does not read GetOnlineFeaturesResponse messages");
}
