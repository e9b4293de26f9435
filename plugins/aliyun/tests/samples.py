"""Replies and pushes in the shapes the Aliyun API reference documents, for golden tests."""

from __future__ import annotations

import datetime as dt

SEND_OK = (
    b'{"Code":"OK","Message":"OK","BizId":"9006197469364984400",'
    b'"RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990"}'
)
SEND_REFUSED = (
    '{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"非法手机号",'
    '"RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990"}'
).encode()
GATEWAY_SIGNATURE = (
    b'{"RequestId":"B0E5F8D1-0000-4000-8000-000000000000","HostId":"dysmsapi.aliyuncs.com",'
    b'"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation."}'
)
QUERY_OK = (
    '{"Code":"OK","Message":"OK","RequestId":"819BE656-D2E0-4858-8B21-B2E477085AAF","TotalCount":3,'
    '"SmsSendDetailDTOs":{"SmsSendDetailDTO":['
    '{"ErrCode":"DELIVERED","TemplateCode":"SMS_122310183","OutId":"order-42",'
    '"ReceiveDate":"2019-01-08 16:44:13","SendDate":"2019-01-08 16:44:10","PhoneNum":"15298356881",'
    '"Content":"【阿里云】验证码为：123","SendStatus":3},'
    '{"ErrCode":"MK:0001","TemplateCode":"SMS_122310183","OutId":"","ReceiveDate":"2019-01-08 16:45:00",'
    '"SendDate":"2019-01-08 16:44:10","PhoneNum":"15298356881","Content":"x","SendStatus":2},'
    '{"ErrCode":"","TemplateCode":"SMS_122310183","OutId":"","ReceiveDate":"",'
    '"SendDate":"2019-01-08 16:44:10","PhoneNum":"15298356881","Content":"x","SendStatus":1}]}}'
).encode()
QUERY_EMPTY = (
    b'{"Code":"OK","Message":"OK","RequestId":"R","TotalCount":0,"SmsSendDetailDTOs":{"SmsSendDetailDTO":[]}}'
)
REPORT_PUSH = (
    '[{"phone_number":"13800138000","send_time":"2017-01-01 11:12:13","report_time":"2017-01-01 11:12:14",'
    '"success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1",'
    '"biz_id":"932702304080415357^0","out_id":"1184585343"},'
    '{"phone_number":"13900139000","send_time":"2017-01-01 11:12:13","report_time":"2017-01-01 11:13:00",'
    '"success":false,"err_code":"MK:0001","err_msg":"失败","sms_size":"1",'
    '"biz_id":"932702304080415357^0","out_id":""}]'
).encode()
INBOUND_PUSH = (
    '[{"phone_number":"13800138000","send_time":"2017-01-01 00:00:00","content":"退订",'
    '"sign_name":"阿里云","dest_code":"1234","sequence_id":1234567890}]'
).encode()

CHINA = dt.timezone(dt.timedelta(hours=8))
